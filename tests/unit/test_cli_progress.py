"""Live progress inside long states: elapsed time and the retry countdown, from the ASL's own
Retry rules (issue 13, point 8)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from selfheal.adapters.asl_file import default_asl, read_definition
from selfheal.cli.progress import LiveProgress, retry_window
from selfheal.services.workflow.runner import ProgressEvent

ASL = json.loads(read_definition(default_asl()))


def _retried() -> tuple[str, str, dict[str, object]]:
    """A (state, error, rule) of the ASL whose Retry allows at least two retries."""
    for state, spec in ASL["States"].items():
        for rule in spec.get("Retry", []):
            if int(rule.get("MaxAttempts", 3)) >= 2:
                return state, rule["ErrorEquals"][0], rule
    raise AssertionError("no state retries twice")


STATE, ERROR, RULE = _retried()


def test_retry_window_follows_the_asl_backoff() -> None:
    interval, rate = float(RULE["IntervalSeconds"]), float(RULE.get("BackoffRate", 2.0))  # type: ignore[arg-type]
    cap = float(RULE.get("MaxDelaySeconds", 10**9))  # type: ignore[arg-type]
    assert retry_window(ASL, STATE, ERROR, 1) == min(interval, cap)
    assert retry_window(ASL, STATE, ERROR, 2) == min(interval * rate, cap)
    assert retry_window(ASL, STATE, ERROR, 2, scale=0.5) == min(interval * rate, cap) * 0.5
    too_many = int(RULE["MaxAttempts"]) + 1  # type: ignore[call-overload]
    assert retry_window(ASL, STATE, ERROR, too_many) is None
    assert retry_window(ASL, STATE, "EditRejected", 1) is None  # not retried: caught


def test_status_line_shows_elapsed_time_and_countdown(capsys: pytest.CaptureFixture[str]) -> None:
    progress = LiveProgress(ASL, tty=False)
    at = datetime.now(UTC)
    progress(ProgressEvent(state=STATE, event="entered", at=at))
    progress.since -= 42  # as if the state had run for 42 s
    assert progress.status_line().startswith(f"    {STATE} 42 s")
    progress(ProgressEvent(state=STATE, event="error", detail=ERROR, at=at))
    first = retry_window(ASL, STATE, ERROR, 1)
    assert first is not None
    line = progress.status_line()
    assert ", retry in " in line and int(line.rsplit("retry in ", 1)[1].split()[0]) <= first
    progress(ProgressEvent(state=STATE, event="succeeded", at=at))
    assert progress.status_line() == ""  # between states: nothing to tick
    out = capsys.readouterr().out.splitlines()
    assert out == [f"  ▶ {STATE} ...", f"  ↻ {STATE}: {ERROR}; retry 1 within {first:.0f} s", f"  ✓ {STATE}"]


def test_a_rate_limit_wait_is_said_once_and_counted_down(capsys: pytest.CaptureFixture[str]) -> None:
    progress = LiveProgress(ASL, tty=False)
    at = datetime.now(UTC)
    progress(ProgressEvent(state="InvokeModel", event="entered", at=at))
    progress(ProgressEvent(state="InvokeModel", event="waiting", detail="30 s (rate limit)", at=at))
    progress(ProgressEvent(state="InvokeModel", event="waiting", detail="29 s", at=at))  # a countdown tick
    line = progress.status_line()
    assert ", retry in " in line and int(line.rsplit("retry in ", 1)[1].split()[0]) <= 29
    out = capsys.readouterr().out.splitlines()
    assert out == ["  ▶ InvokeModel ...", "  ⏳ InvokeModel: waiting 30 s (rate limit)"]
