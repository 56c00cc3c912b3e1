"""Pure parts of the workflow: payload validation, the path views, the drawing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from selfheal.adapters.sfn_local import DEFAULT_ASL
from selfheal.domain.records import Attempt, StepRecord
from selfheal.domain.svg import render_svg
from selfheal.errors import MalformedInput
from selfheal.services.workflow.catalogue import state as catalogue_state
from selfheal.services.workflow.history import path_from_attempt, path_from_history, run_status
from selfheal.services.workflow.models import FixState, parse_input

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def step(state: str, outcome: str, sec: int, error: str | None = None) -> StepRecord:
    return StepRecord(state=state, started_at=T0 + timedelta(seconds=sec), duration_ms=10,
                      outcome=outcome, error=error)  # type: ignore[arg-type]


def _parse(state: str, event: object) -> FixState:
    return parse_input(state, catalogue_state(state).input_model, event)


def test_input_models_name_what_is_missing() -> None:
    assert _parse("FetchSource", {"fingerprint": "abc"}).fingerprint == "abc"
    with pytest.raises(MalformedInput, match="BuildPromptInput needs context"):
        _parse("BuildPrompt", {"fingerprint": "abc", "attempt": 1, "revision": "r"})
    with pytest.raises(MalformedInput, match="fingerprint"):
        _parse("FetchSource", {"attempt": 1})
    with pytest.raises(MalformedInput, match="JSON object"):
        _parse("MarkDone", ["not", "an", "object"])


@pytest.mark.parametrize(("state", "missing"), [
    ("BuildPrompt", "revision"), ("InvokeModel", "attempt"), ("ValidatePatch", "revision"),
    ("CommitBranch", "attempt"), ("OpenPullRequest", "commit"), ("MarkDone", "pr_url"),
    ("RecordAbstain", "attempt"), ("RecordFailure", "failure")])
def test_required_fields_are_declared_not_checked_later(state: str, missing: str) -> None:
    """Each state's input model types what the state needs: a payload without it is refused at
    the edge, and a parsed one is the exact model with the field set (no assert narrows it)."""
    full = {"fingerprint": "abc", "attempt": 1, "revision": "r", "branch": "b", "commit": "c",
            "pr_url": "https://x/pr/1", "failure": {"Error": "E", "Cause": "c"},
            "artifacts": {"context": "c", "prompt": "p", "reply": "r", "proposal": "p", "validation": "v"}}
    model = catalogue_state(state).input_model
    parsed = parse_input(state, model, full)
    assert type(parsed) is model and getattr(parsed, missing) is not None
    with pytest.raises(MalformedInput, match=missing):
        parse_input(state, model, {k: v for k, v in full.items() if k != missing})


def test_path_from_attempt_merges_retries_and_marks_caught() -> None:
    att = Attempt(number=1, steps=[
        step("FetchSource", "succeeded", 0), step("InvokeModel", "retried", 1, "ModelThrottled"),
        step("InvokeModel", "succeeded", 2), step("OpenPullRequest", "failed", 3, "CodeHostForbidden"),
        step("RecordFailure", "succeeded", 4)])
    views = path_from_attempt(att)
    assert [(v.state, v.outcome, v.tries) for v in views] == [
        ("FetchSource", "succeeded", 1), ("InvokeModel", "succeeded", 2),
        ("OpenPullRequest", "caught", 1), ("RecordFailure", "succeeded", 1)]
    assert views[1].retries == 1 and views[1].duration_ms == 20


def test_path_from_history_reads_console_events() -> None:
    def ev(typ: str, sec: float, **det: object) -> dict[str, object]:
        key = {"TaskStateEntered": "stateEnteredEventDetails", "TaskStateExited": "stateExitedEventDetails",
               "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails"}.get(typ, "x")
        return {"type": typ, "timestamp": T0 + timedelta(seconds=sec), key: det}

    events = [ev("TaskStateEntered", 0, name="InvokeModel"), ev("LambdaFunctionScheduled", 0),
              ev("LambdaFunctionFailed", 1, error="ModelThrottled", cause='{"errorMessage": "429"}'),
              ev("LambdaFunctionScheduled", 2), ev("LambdaFunctionSucceeded", 3),
              ev("TaskStateExited", 3, name="InvokeModel", output="{}"),
              ev("TaskStateEntered", 3, name="CommitBranch"), ev("LambdaFunctionScheduled", 3),
              ev("LambdaFunctionFailed", 4, error="CodeHostForbidden", cause="no"),
              ev("TaskStateExited", 4, name="CommitBranch", output='{"failure": {}}')]
    views = path_from_history(events)
    assert [(v.state, v.outcome, v.tries) for v in views] == [("InvokeModel", "succeeded", 2),
                                                              ("CommitBranch", "caught", 1)]
    assert views[0].duration_ms == 3000 and views[1].error == "CodeHostForbidden"


def test_svg_colours_the_run_like_the_console() -> None:
    asl = json.loads(DEFAULT_ASL.read_text())
    att = Attempt(number=1, outcome="failed", steps=[
        step("FetchSource", "succeeded", 0), step("BuildPrompt", "succeeded", 1),
        step("InvokeModel", "retried", 2, "ModelThrottled"),
        step("InvokeModel", "failed", 3, "ModelThrottled"),
        step("RecordFailure", "succeeded", 4)])
    status = run_status(asl, path_from_attempt(att), att.outcome)
    svg = render_svg(asl, status, {"InvokeModel": "2 tries"}, title="run <1>")
    root = ElementTree.fromstring(svg)  # well-formed XML, title escaped
    got = {g.get("data-state"): g.get("data-status") for g in root.iter("{http://www.w3.org/2000/svg}g")
           if g.get("data-state")}
    assert set(got) == set(asl["States"])
    assert got["FetchSource"] == "succeeded" and got["InvokeModel"] == "caught"
    assert got["Start"] == got["Route"] == "succeeded" and got["Failed"] == "failed"
    assert got["CommitBranch"] == got["Abstained"] == "not visited"
    assert "#ec7211" in svg and "run &lt;1&gt;" in svg
