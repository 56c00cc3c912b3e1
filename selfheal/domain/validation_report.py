"""The structured verdict of patch validation, rendered by the PR body and the CLI."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field


class GateResult(BaseModel):
    """One gate's verdict with its evidence."""

    # non_empty | allowed_files | inside_repo | deny_list | size | applies | parses | lint | tests | ...
    gate: str
    passed: bool
    detail: str = ""
    duration_ms: int = 0
    evidence: dict[str, Any] = Field(default_factory=dict)


class CommandRun(BaseModel):
    """A subprocess run during validation."""

    argv: list[str]
    label: str = ""  # what the run was for: "tests before", "tests after", "reproduction before: ..."
    cwd: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    duration_ms: int = 0
    output_tail: str = ""


class TestCounts(BaseModel):
    __test__: ClassVar[bool] = False  # not a pytest test class

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failing_tests: list[str] = Field(default_factory=list)


class ValidationReport(BaseModel):
    """All gates run for one candidate edit.

    ``valid``: every gate passed. ``verified``: some test that failed before the patch passes
    after it (a reproduction or a regression test); an unverified valid patch may only open a
    draft PR labelled so. ``feedback`` is the trimmed evidence for the next prompt.
    """

    valid: bool
    verified: bool = False
    failed_gate: str | None = None
    gates: list[GateResult] = Field(default_factory=list)
    commands: list[CommandRun] = Field(default_factory=list)
    tests_before: TestCounts | None = None
    tests_after: TestCounts | None = None
    newly_failing: list[str] = Field(default_factory=list)
    newly_passing: list[str] = Field(default_factory=list)
    # Tests that ran before the patch but not after (deleted, deselected, newly skipped).
    missing_tests: list[str] = Field(default_factory=list)
    sandbox_notes: list[str] = Field(default_factory=list)
    feedback: str = ""
    duration_ms: int = 0
