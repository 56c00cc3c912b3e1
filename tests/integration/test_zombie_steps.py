"""Issue #11, "nothing is ever stuck": a late or duplicate step Lambda (a zombie of a timed-out
or swept execution) for an attempt that already has its outcome is refused by the recorder's
conditional start write. It moves nothing back to FIXING, runs none of its work, writes no step,
and says why (a warning in the log, the ``StepsRefused`` metric; a final state's output carries
``refused``)."""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from selfheal.domain.records import ErrorRecord, Status, utcnow
from selfheal.errors import AttemptFinished
from selfheal.services.workflow.catalogue import FINAL_STATES, REFUSED_KEY, STATES
from tests.support.workflow_fakes import local_engine, make_services, seed_error


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[Any]:
    """Workflow services installed for the real ``functions/<state>.handler`` modules."""
    from selfheal.compose import aws

    svc = make_services(tmp_path)
    aws.configure(steps=svc)
    try:
        yield svc
    finally:
        aws.configure(steps=None)


def handler(state: str) -> Any:
    module = next(s.handler_module for s in STATES if s.name == state)
    return importlib.import_module(module).handler


def failed_fix(svc: Any) -> str:
    """An error whose fix attempt 1 failed: FAILED, attempt finished (as RecordFailure or the
    sweeper leaves it)."""
    fp = seed_error(svc.store)
    svc.store.transition(fp, Status.FIXING)
    svc.store.start_attempt(fp, f"{fp[:12]}-1")
    svc.store.finish_attempt(fp, 1, outcome="failed", failed_state="InvokeModel", error="StepTimeout",
                             cause="lost", finished_at=utcnow())
    svc.store.transition(fp, Status.FAILED, reason="InvokeModel: lost")
    return fp


def snapshot(svc: Any, fp: str) -> ErrorRecord:
    rec = svc.store.get(fp)
    assert rec is not None
    return rec


def refused_metrics(capsys: pytest.CaptureFixture[str]) -> float:
    """The ``StepsRefused`` counts the handlers emitted (EMF on stdout)."""
    from selfheal.compose.aws import STEPS_REFUSED_METRIC

    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    return sum(sum(e.get(STEPS_REFUSED_METRIC, [])) for e in emf)


def test_a_zombie_step_on_a_failed_attempt_does_not_reopen_the_fix(
        installed: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    svc = installed
    fp = failed_fix(svc)
    before = snapshot(svc, fp)
    late = {"fingerprint": fp, "attempt": 1, "branch": "selfheal/x", "commit": "c", "revision": "r1",
            "artifacts": {"context": "x", "proposal": "y", "validation": "z"}}
    for state in ("FetchSource", "CommitBranch", "OpenPullRequest"):
        with caplog.at_level(logging.WARNING), \
                pytest.raises(AttemptFinished, match=r"attempt 1 .* finished \(failed\)"):
            handler(state)(dict(late), None)
        assert f"{state} refused" in caplog.text
    after = snapshot(svc, fp)
    assert after.status == Status.FAILED  # not FIXING again
    assert after.model_dump() == before.model_dump()  # no step, no new attempt, nothing
    assert svc.code_host.commits == {} and svc.code_host.open_calls == 0
    assert refused_metrics(capsys) == 3


def test_final_states_of_a_finished_attempt_end_quietly_and_say_why(
        installed: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """A zombie RecordFailure must not turn an open PR into FAILED; a repeated MarkDone or
    RecordAbstain changes nothing. Their output says why nothing was done."""
    svc = installed
    fp = seed_error(svc.store)
    svc.store.transition(fp, Status.FIXING)
    svc.store.start_attempt(fp, "exec-1")
    svc.store.finish_attempt(fp, 1, outcome="pr_open", finished_at=utcnow())
    svc.store.transition(fp, Status.PR_OPEN, fields={"branch": "selfheal/x", "pr_url": "local://pr/1"})
    before = snapshot(svc, fp)
    failure = {"Error": "States.Timeout", "Cause": "the execution timed out"}
    for state, extra in (("RecordFailure", {"failure": failure}),
                         ("MarkDone", {"branch": "selfheal/x", "pr_url": "local://pr/2", "commit": "c"}),
                         ("RecordAbstain", {"reasons": ["late"]})):
        out = handler(state)({"fingerprint": fp, "attempt": 1, **extra}, None)
        assert "attempt 1" in out[REFUSED_KEY] and "pr_open" in out[REFUSED_KEY], state
    assert snapshot(svc, fp).model_dump() == before.model_dump()
    assert refused_metrics(capsys) == 3


def test_final_states_are_the_ones_the_asl_ends_after() -> None:
    """``FINAL_STATES`` (refused quietly) are exactly the Task states whose next state ends the
    execution: a refused state elsewhere must raise, or the ASL would run on."""
    asl = json.loads(Path("statemachine/fix_error.asl.json").read_text())
    states = asl["States"]
    ends = {n for n, s in states.items() if s["Type"] in ("Succeed", "Fail")}
    final = {n for n, s in states.items() if s["Type"] == "Task" and {s.get("Next")} <= ends | {None}
             and n in {t.name for t in STATES}}
    assert final == FINAL_STATES


def test_a_zombie_execution_through_the_real_asl_changes_nothing(tmp_path: Path) -> None:
    """A whole late execution for a finished attempt (a duplicate start, say): its first step is
    refused, the Catch's RecordFailure is refused too, and the execution fails with the store
    untouched."""
    svc = make_services(tmp_path)
    fp = failed_fix(svc)
    before = snapshot(svc, fp)
    with local_engine(svc) as engine:
        arn = engine.start(f"{fp[:12]}-1-zombie", {"fingerprint": fp, "attempt": 1})
        info = engine.wait(arn, timeout=60)
        history = engine.history(arn)
    assert info.status == "FAILED"
    failed = [e for e in history if e.get("type") == "LambdaFunctionFailed"]
    assert any("AttemptFinished" in json.dumps(e, default=str) for e in failed)
    assert snapshot(svc, fp).model_dump() == before.model_dump()
    assert svc.model.calls == []  # type: ignore[attr-defined]

