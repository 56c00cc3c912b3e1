"""Ctrl-C while a local fix runs: the attempt is marked failed at its running state and the
error FAILED, so it can be re-driven instead of staying FIXING forever."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from selfheal.domain.fixing import ModelReply, Prompt
from selfheal.domain.records import Status
from selfheal.services.workflow.runner import ProgressEvent, redrive_payload, run_execution
from tests.support.workflow_fakes import GOOD_REPLY, local_engine, make_services, seed_error


class BlockingModel:
    model_id = "blocking"

    def __init__(self) -> None:
        self.release = threading.Event()

    def complete(self, prompt: Prompt) -> ModelReply:
        self.release.wait(60)
        return ModelReply(text=GOOD_REPLY, model_id=self.model_id)


def test_interrupt_marks_the_attempt_failed_and_redrivable(tmp_path: Path) -> None:
    model = BlockingModel()
    svc = make_services(tmp_path, model=model)
    fp = seed_error(svc.store)

    def interrupt(ev: ProgressEvent) -> None:
        if ev.state == "InvokeModel" and ev.event == "entered":
            raise KeyboardInterrupt

    with local_engine(svc) as engine:
        try:
            with pytest.raises(KeyboardInterrupt):
                run_execution(svc.store, engine, fp, progress=interrupt, timeout=60)
            record = svc.store.get(fp)
            assert record is not None and record.status == Status.FAILED
            att = record.attempts[-1]
            assert (att.outcome, att.failed_state, att.error) == ("failed", "InvokeModel", "Interrupted")
            assert redrive_payload(record, svc.artifacts)["resume_from"] == "InvokeModel"
        finally:
            model.release.set()
            engine.wait(engine.execution_arn(f"{fp[:12]}-1"), timeout=60)


def test_an_interrupt_before_the_entered_state_records_its_start_still_fails_it_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine logs ``TaskStateEntered`` before its task runs: an interrupt in between must
    not fail the attempt at the previous, finished state. Forced here: the InvokeModel task
    records its start only after the interrupt."""
    from selfheal.services.workflow.recorder import StepRecorder

    model = BlockingModel()
    svc = make_services(tmp_path, model=model)
    fp = seed_error(svc.store)
    interrupted = threading.Event()
    original = StepRecorder.ensure_attempt

    def late(self: StepRecorder, state_name: str, payload: Any) -> int:
        if state_name == "InvokeModel":
            assert interrupted.wait(60)
        return original(self, state_name, payload)

    monkeypatch.setattr(StepRecorder, "ensure_attempt", late)

    def interrupt(ev: ProgressEvent) -> None:
        if ev.state == "InvokeModel" and ev.event == "entered":
            interrupted.set()
            raise KeyboardInterrupt

    with local_engine(svc) as engine:
        try:
            with pytest.raises(KeyboardInterrupt):
                run_execution(svc.store, engine, fp, progress=interrupt, timeout=60)
            record = svc.store.get(fp)
            assert record is not None and record.status == Status.FAILED
            assert record.attempts[-1].failed_state == "InvokeModel"
            assert redrive_payload(record, svc.artifacts)["resume_from"] == "InvokeModel"
        finally:
            interrupted.set()
            model.release.set()
            engine.wait(engine.execution_arn(f"{fp[:12]}-1"), timeout=60)


def test_a_killed_run_blocks_a_new_fix_until_forced(tmp_path: Path) -> None:
    from selfheal.errors import InvalidTransition
    svc = make_services(tmp_path)
    fp = seed_error(svc.store)
    # a run whose process was killed: FIXING, attempt running
    svc.store.transition(fp, Status.FIXING, reason="fix attempt 1 started")
    svc.store.start_attempt(fp, f"{fp[:12]}-1")
    with local_engine(svc) as engine:
        with pytest.raises(InvalidTransition, match="--force"):
            run_execution(svc.store, engine, fp, timeout=60)
        out = run_execution(svc.store, engine, fp, timeout=60, force=True)
    assert out.status == Status.PR_OPEN and out.attempt == 2
    first = svc.store.get(fp).attempts[0]  # type: ignore[union-attr]
    assert (first.outcome, first.error) == ("failed", "Abandoned")
