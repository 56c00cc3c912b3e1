"""Re-drive from OpenPullRequest after a failure there: a new execution resumes at that state
with the recorded artifacts, and the model is not called again."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.domain.records import Status
from selfheal.errors import CodeHostForbidden, InvalidTransition, MalformedInput
from selfheal.services.workflow.runner import redrive_payload, request_redrive, run_execution
from tests.support.workflow_fakes import (
    GOOD_REPLY,
    MemoryCodeHost,
    ScriptedModel,
    local_engine,
    make_services,
    seed_error,
)


def test_redrive_from_open_pull_request_does_not_call_the_model(tmp_path: Path) -> None:
    host = MemoryCodeHost()
    host.fail_open = [CodeHostForbidden("branch protected")]
    model = ScriptedModel([GOOD_REPLY])
    svc = make_services(tmp_path, code_host=host, model=model)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        first = run_execution(svc.store, engine, fp, timeout=60)
        assert first.status == Status.FAILED and first.failed_state == "OpenPullRequest"
        assert len(model.calls) == 1

        record = svc.store.get(fp)
        assert record is not None
        payload = redrive_payload(record, svc.artifacts)  # default: the failed state
        assert payload["resume_from"] == "OpenPullRequest"
        second = run_execution(svc.store, engine, fp, payload=payload, timeout=60)

    assert second.status == Status.PR_OPEN and second.attempt == 2
    assert len(model.calls) == 1  # not paid again
    assert [v.state for v in second.path] == ["OpenPullRequest", "MarkDone"]
    record = svc.store.get(fp)
    assert record is not None and record.pr_url == second.pr_url
    assert [a.outcome for a in record.attempts] == ["failed", "pr_open"]


def test_redrive_is_refused_for_a_fix_that_did_not_fail(tmp_path: Path) -> None:
    svc = make_services(tmp_path)
    fp = seed_error(svc.store)
    with pytest.raises(InvalidTransition):
        redrive_payload(svc.store.get(fp), svc.artifacts)  # type: ignore[arg-type]
    svc.store.transition(fp, Status.FIXING)
    svc.store.transition(fp, Status.FAILED)
    with pytest.raises(MalformedInput):
        redrive_payload(svc.store.get(fp), svc.artifacts, "Bogus")  # type: ignore[arg-type]
    with pytest.raises(MalformedInput, match="no recorded run"):
        redrive_payload(svc.store.get(fp), svc.artifacts, "CommitBranch")  # type: ignore[arg-type]
    # the AWS flavour: back to QUEUED for the queue to start a fresh execution
    assert request_redrive(svc.store, fp).status == Status.QUEUED


def test_queued_redrive_resumes_in_a_fresh_execution_without_the_model(tmp_path: Path) -> None:
    """AWS flavour: QUEUED + a marker; the queue's fresh execution ({fingerprint, attempt})
    finds the request in FetchSource and jumps to OpenPullRequest."""
    host = MemoryCodeHost()
    host.fail_open = [CodeHostForbidden("branch protected")]
    model = ScriptedModel([GOOD_REPLY])
    svc = make_services(tmp_path, code_host=host, model=model)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        assert run_execution(svc.store, engine, fp, timeout=60).status == Status.FAILED
        assert request_redrive(svc.store, fp, artifacts=svc.artifacts).status == Status.QUEUED
        # what the queue's start_fix does: FIXING, a new attempt, a plain start input
        second = run_execution(svc.store, engine, fp, timeout=60)

    assert second.status == Status.PR_OPEN and len(model.calls) == 1
    assert [v.state for v in second.path] == ["FetchSource", "OpenPullRequest", "MarkDone"]
    first = svc.store.get(fp).attempts[0]  # type: ignore[union-attr]
    assert first.steps[-1].state == "RedriveRequested"
    assert "OpenPullRequest" in (first.steps[-1].cause or "")


def test_a_request_to_resume_at_a_state_that_is_not_resumable_is_refused(tmp_path: Path) -> None:
    """The catalogue's invariant on every step's output: ``resume_from`` names a resumable state
    (an unknown name would make the ASL's ResumeAt start over and pay for the model again)."""
    import json

    from selfheal.domain.records import StepRecord, utcnow
    from selfheal.services.workflow.catalogue import run_state

    svc = make_services(tmp_path)
    fp = seed_error(svc.store)
    svc.store.transition(fp, Status.FIXING, reason="test")
    first = svc.store.start_attempt(fp, None).number
    ref = svc.artifacts.put_bytes("req.json", json.dumps({"fingerprint": fp,
                                                           "resume_from": "RecordFailure"}).encode())
    now = utcnow()
    marker = StepRecord(state="RedriveRequested", started_at=now, finished_at=now, duration_ms=0,
                        outcome="succeeded", artifacts={"request": ref})
    svc.store.record_step(fp, first, marker)
    second = svc.store.start_attempt(fp, None).number
    with pytest.raises(MalformedInput, match="RecordFailure"):
        run_state("FetchSource", svc, {"fingerprint": fp, "attempt": second})
