"""ValidatePatch on Lambda ends when the function's Timeout runs out, with no verdict and no step
record. The state handler hands the runtime's remaining time to the step, and the test runs fit
into it: a run that would outlive the function times out as a verdict instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from selfheal.domain.deadline import lambda_seconds_left, seconds_left, step_deadline
from selfheal.domain.validation_report import TestCounts
from selfheal.validation.sandbox import Sandbox
from selfheal.validation.service import DEADLINE_MARGIN_S, BaselineCache, validate_candidate
from tests.support import validation_repo as vr

SLOW_TEST = "import time\n\n\ndef test_slow():\n    time.sleep(60)\n"


class LambdaContext:
    """What the Lambda runtime passes as ``context`` (the one method used here)."""

    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def test_the_state_handler_hands_the_remaining_time_to_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    from selfheal.compose import aws
    from selfheal.services.workflow import catalogue

    seen: list[float | None] = []

    def fake_run_state(name: str, services: Any, event: dict[str, Any]) -> dict[str, Any]:
        seen.append(seconds_left())
        return {}

    monkeypatch.setattr(catalogue, "run_state", fake_run_state)
    monkeypatch.setattr(aws, "step_services", lambda name: None)
    handler = aws.state_handler("ValidatePatch")
    handler({}, LambdaContext(170_000))
    handler({}, None)  # no Lambda context (a test, the local engine): no deadline
    assert seen[0] is not None and 160 < seen[0] <= 170
    assert seen[1] is None
    assert seconds_left() is None  # nothing leaks out of the step
    assert lambda_seconds_left(object()) is None


def test_a_run_that_would_outlive_the_function_times_out_as_a_verdict(tmp_path: Path) -> None:
    project = vr.make_project(tmp_path / "proj", {"tests/test_slow.py": SLOW_TEST})
    repo, rev = vr.open_repo(project)
    # The run before the patch is known (a repair round): one run must fit into what is left.
    with step_deadline(DEADLINE_MARGIN_S + 6):
        report = validate_candidate(repo, rev, vr.context(), vr.proposal(vr.FIX_ONLY_REPLY),
                                    vr.settings(test_timeout_seconds=300.0), cache=BaselineCache(),
                                    baseline=TestCounts(passed=3, failed=1))
    assert report.failed_gate == "tests"
    after = next(c for c in report.commands if c.label == "tests after")
    killed = re.search(r"killed after (\d+)s timeout", after.output_tail)
    assert after.timed_out and killed is not None and int(killed[1]) <= 6, after.output_tail
    assert f"test timeout {killed[1]} s (configured 300 s)" in " ".join(report.sandbox_notes), \
        report.sandbox_notes


def test_without_a_pid_namespace_the_runs_share_what_is_left(tmp_path: Path) -> None:
    project = vr.make_project(tmp_path / "proj")
    repo, rev = vr.open_repo(project)
    # No namespaces: the runs before and after the patch go one at a time, so each gets half.
    sandbox = Sandbox(isolate_network=False)
    with step_deadline(DEADLINE_MARGIN_S + 50):
        report = validate_candidate(repo, rev, vr.context(), vr.proposal(vr.GOOD_REPLY),
                                    vr.settings(test_timeout_seconds=300.0), cache=BaselineCache(),
                                    sandbox=sandbox)
    assert report.valid, report.feedback
    notes = report.sandbox_notes
    # Half of what is left after the margin (50 s, less what the gates took: under 25 s each).
    pattern = re.compile(r"test timeout (\d+) s \(configured 300 s\): the step has \d+ s left for 2 test run")
    cut = [m for n in notes if (m := pattern.match(n))]
    assert cut and 5 <= int(cut[0][1]) <= 25, notes
    assert any("ran one after the other" in n for n in notes), notes


def test_without_a_deadline_the_configured_timeout_stands(tmp_path: Path) -> None:
    project = vr.make_project(tmp_path / "proj")
    repo, rev = vr.open_repo(project)
    report = validate_candidate(repo, rev, vr.context(), vr.proposal(vr.GOOD_REPLY), vr.settings(),
                                cache=BaselineCache())
    assert report.valid and not any(n.startswith("test timeout") for n in report.sandbox_notes)
