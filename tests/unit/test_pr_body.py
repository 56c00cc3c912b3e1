"""The PR body template: snapshot tests plus the properties a reviewer relies on.

Regenerate snapshots after an intended change with ``SELFHEAL_UPDATE_SNAPSHOTS=1`` and review
the diff; a missing snapshot fails the test.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from selfheal.domain.pr_body import PrBodyInput, diff_summary, fence, pr_title, render_pr_body
from selfheal.domain.records import ErrorRecord, FrameRef
from selfheal.domain.validation_report import CommandRun, GateResult, ValidationReport
from selfheal.domain.validation_report import TestCounts as Counts

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"

TRACE = """\
Traceback (most recent call last):
  File "/var/task/app.py", line 5, in handler
    return {"avg": average(event["values"])}
  File "/var/task/app.py", line 2, in average
    return sum(values) / len(values)
ZeroDivisionError: division by zero (key=AKIAIOSFODNN7EXAMPLE)
"""

ORIGINAL = {"app.py": "def average(values):\n    return sum(values) / len(values)\n"}
UPDATED = {
    "app.py": "def average(values):\n    if not values:\n        return 0.0\n"
              "    return sum(values) / len(values)\n",
    "tests/test_selfheal_average.py": "from app import average\n\n\ndef test_empty():\n"
                                      "    assert average([]) == 0.0\n",
}


def _record() -> ErrorRecord:
    return ErrorRecord(
        fingerprint="3f9a1c2b7d4e5f60718293a4b5c6d7e8", exc_type="ZeroDivisionError",
        message="division by zero | `AKIAIOSFODNN7EXAMPLE` <b>",
        frames=[FrameRef(file="app.py", function="handler", line=5),
                FrameRef(file="app.py", function="average", line=2)],
        sample_trace=TRACE, count=17,
        first_seen=datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
        last_seen=datetime(2026, 11, 29, 9, 30, tzinfo=UTC))


def _report(verified: bool) -> ValidationReport:
    gates = [GateResult(gate=g, passed=True, detail=d) for g, d in
             [("non_empty", "2 edits"), ("applies", "all blocks applied"), ("parses", "ast ok"),
              ("lint", "no new pyflakes errors"), ("tests", "suite green")]]
    return ValidationReport(
        valid=True, verified=verified, gates=gates,
        commands=[CommandRun(argv=["python", "-m", "pytest", "-x", "-q"], exit_code=0, duration_ms=812)],
        tests_before=Counts(passed=3, failed=1 if verified else 0),
        tests_after=Counts(passed=4 if verified else 3),
        newly_passing=["tests/test_selfheal_average.py::test_empty"] if verified else [])


def _input(report: ValidationReport | None) -> PrBodyInput:
    return PrBodyInput(record=_record(), report=report,
                       root_cause="`average` divides by `len(values)` without handling an empty list.",
                       summary="Return 0.0 for an empty list and add a regression test.",
                       original=ORIGINAL, updated=UPDATED, model_id="rules", tokens_in=1234,
                       tokens_out=56, cost_usd=0.0, attempt=1, execution="fix-3f9a1c2b7d4e-1",
                       execution_url="https://console.aws.amazon.com/states/executions/fix-3f9a1c2b7d4e-1")


def _check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("SELFHEAL_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"snapshot {path} missing: run with SELFHEAL_UPDATE_SNAPSHOTS=1 and review it"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("verified", [True, False])
def test_pr_body_snapshot(verified: bool) -> None:
    body = render_pr_body(_input(_report(verified)))
    _check_snapshot(f"pr_body_{'verified' if verified else 'unverified'}.md", body)


def test_unverified_banner_only_when_unverified() -> None:
    assert "UNVERIFIED" not in render_pr_body(_input(_report(True)))
    assert "UNVERIFIED" in render_pr_body(_input(_report(False)))
    assert "UNVERIFIED" in render_pr_body(_input(None))
    invalid = _report(True).model_copy(update={"valid": False, "failed_gate": "tests"})
    assert "VALIDATION FAILED** at gate `tests`" in render_pr_body(_input(invalid))


def test_body_sections_and_redaction() -> None:
    body = render_pr_body(_input(_report(True)))
    for heading in ("## What failed", "## Why", "## What changed", "## Evidence", "## Cost", "## Links"):
        assert heading in body
    assert "AKIAIOSFODNN7EXAMPLE" not in body           # redacted in message and trace
    assert "<b>" not in body and "\\|" in body          # table cell stays one cell, no raw HTML
    assert "| 17 |" in body and "2026-11-01 08:00:00 UTC" in body
    assert "| `app.py` | +2 | -0 |" in body
    assert "| `tests/test_selfheal_average.py` | +5 | -0 |" in body
    assert "1,234 tokens in, 56 tokens out" in body
    assert "3 passed, 1 failed" in body and "4 passed, 0 failed" in body
    assert "$" not in body.replace("$0.0000", "")       # every placeholder was filled


def test_fence_survives_backticks_in_content() -> None:
    text = "a ``` b ```` c"
    fenced = fence(text)
    assert fenced.startswith("`````\n") and fenced.endswith("\n`````")


def test_trace_excerpt_keeps_the_tail() -> None:
    rec = _record().model_copy(update={"sample_trace": "\n".join(f"line {i}" for i in range(100))})
    body = render_pr_body(PrBodyInput(record=rec))
    assert "line 99" in body and "line 10\n" not in body and "60 earlier lines omitted" in body


def test_diff_summary_and_title() -> None:
    stats, diff = diff_summary(ORIGINAL, {"app.py": ORIGINAL["app.py"]})
    assert stats == [] and diff == ""
    stats, diff = diff_summary(ORIGINAL, UPDATED)
    assert [s[0] for s in stats] == ["app.py", "tests/test_selfheal_average.py"]
    assert "--- /dev/null" in diff and "+++ b/app.py" in diff
    assert pr_title(_record()) == "fix(selfheal): ZeroDivisionError in app.py:2"
    assert pr_title(_record(), "Guard\nempty list") == "fix(selfheal): Guard empty list"
    assert len(pr_title(_record(), "x" * 500)) == 120


def test_regression_links_the_earlier_fix() -> None:
    data = _input(_report(True))
    assert "Regression" not in render_pr_body(data)
    data.record = data.record.model_copy(update={"previous_pr_url": "https://github.com/o/r/pull/7"})
    body = render_pr_body(data)
    assert "Regression: this error came back after the fix in https://github.com/o/r/pull/7" in body


def test_evidence_names_the_replay_and_the_shipped_regression_test() -> None:
    from selfheal.domain.pr_body import _evidence
    from selfheal.domain.validation_report import GateResult, ValidationReport

    checks = [{"kind": "recorded_input", "target": "_selfheal_reproduction.py",
               "detail": "fails before the patch, passes after"},
              {"kind": "regression_test", "target": "tests/test_selfheal_abc.py",
               "detail": "fails before the patch, passes after"}]
    report = ValidationReport(valid=True, verified=True, gates=[
        GateResult(gate="reproduction", passed=True, detail="ok", evidence={"checks": checks})])
    text = _evidence(report)
    assert ("- Replay of the failing input(s) recorded from the log: fails before the patch, passes after"
            in text)
    assert "- Regression test `tests/test_selfheal_abc.py`: fails before the patch, passes after" in text
