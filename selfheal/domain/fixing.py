"""Shared models of fix generation: source context, prompts, model replies and edits.

These are the contracts between the context builder, the prompt builder, the model providers
(``FixModel`` adapters, including the offline ``rules`` fixer) and patch validation.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from selfheal.domain.records import FrameRef


class CodeSection(BaseModel):
    """A slice of one repository file offered to the model (1-based, inclusive lines)."""

    path: str
    start_line: int
    end_line: int
    text: str
    kind: str = "function"  # function | class | window | imports | definition | module


class FixContext(BaseModel):
    """Everything known about one error that a fixer may use, already redacted.

    ``offered_files`` are the repository paths the fixer may edit (the files of in-app frames);
    ``files`` maps each offered path to its full text at ``revision`` (the rules fixer parses
    them with ``ast``; LLM prompts only carry ``sections``).
    """

    fingerprint: str
    exc_type: str
    message: str
    frames: list[FrameRef] = Field(default_factory=list)
    trace: str = ""
    occurrences: int = 1
    first_seen: str = ""
    last_seen: str = ""
    revision: str = ""
    sections: list[CodeSection] = Field(default_factory=list)
    offered_files: list[str] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict)
    unmapped_frames: list[FrameRef] = Field(default_factory=list)
    # A Python script that reproduces the failure from the recorded failing input: it raises
    # the error while the defect is present and exits 0 once fixed. Validation runs it before
    # and after the patch (``selfheal.validation.repro``); empty when no input was recorded.
    reproduction: str = ""
    # The recorded failing inputs (redacted events, JSON text) and the replay built from them
    # (``selfheal.domain.replay``): the entry frame it calls and the regression test module that
    # ships with the fix (path and text; empty when nothing can be replayed).
    recorded_inputs: list[str] = Field(default_factory=list)
    entry: str = ""
    regression_test_path: str = ""
    regression_test: str = ""
    # The repository's test style (``selfheal.domain.test_pattern``): an existing test module
    # shown to the model as the pattern, and the lines with which tests import the package.
    test_pattern_path: str = ""
    test_pattern: str = ""
    test_imports: list[str] = Field(default_factory=list)
    new_test_path: str = ""
    # What the context builder could not do or chose to drop (ambiguous frames, budget cuts,
    # redaction counts): shown to operators, never a reason to guess.
    notes: list[str] = Field(default_factory=list)


class Prompt(BaseModel):
    """A rendered prompt plus the structured context it was built from."""

    system: str
    user: str
    attempt: int = 1
    feedback: str | None = None
    context: FixContext
    max_output_tokens: int = 4096


class ModelReply(BaseModel):
    """A provider's answer: text plus token usage."""

    text: str
    model_id: str
    tokens_in: int = 0
    tokens_out: int = 0
    stop_reason: str | None = None
    latency_ms: int | None = None
    cost_usd: float = 0.0


class SearchReplace(BaseModel):
    """Replace the unique exact occurrence of ``search`` in ``path`` by ``replace``.

    An empty ``search`` creates a new file (allowed only for new test files).
    """

    path: str
    search: str
    replace: str


class EditProposal(BaseModel):
    """A parsed model reply: edits plus the model's explanation, or an abstention."""

    edits: list[SearchReplace] = Field(default_factory=list)
    root_cause: str = ""
    summary: str = ""
    abstain_reason: str | None = None

    @property
    def abstained(self) -> bool:
        return self.abstain_reason is not None
