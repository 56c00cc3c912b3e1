"""Nothing stays FIXING: an attempt past its deadline (an Express execution ended by its 5-minute
cap, a killed process) is swept to FAILED with reason ``lost`` at the state it was in, and a
re-drive resumes there without a second model call. Leases: a live owner is never swept, a dead
one at once. RecordFailure writes where to resume before FAILED (the re-drive race)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from selfheal.adapters.lease_files import Lease, find_lease, owner_alive
from selfheal.domain.records import Status, utcnow
from selfheal.services.workflow.chain import continue_if_due
from selfheal.services.workflow.runner import redrive_payload, run_execution
from selfheal.services.workflow.sweeper import LOST, LOST_ERROR, SweepPolicy, attempt_deadline, sweep
from tests.support.workflow_fakes import (
    GOOD_REPLY,
    ScriptedModel,
    ScriptedValidator,
    local_engine,
    make_services,
    seed_error,
)


class BlockingValidator(ScriptedValidator):
    """Blocks in ValidatePatch until released (the execution is cut off meanwhile)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, *args: Any) -> Any:
        if self.calls == 0:
            self.entered.set()
            self.release.wait(30)
        return super().__call__(*args)


def _wait_for(predicate: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_an_express_execution_cut_off_in_validate_patch_is_lost_then_redriven_without_the_model(
        tmp_path: Path) -> None:
    validator = BlockingValidator()
    model = ScriptedModel([GOOD_REPLY])
    svc = make_services(tmp_path, model=model, validator=validator)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        first = start_like_start_fix(svc.store, engine, fp)
        # it ends after the model call; the queue (here: continue_if_due) starts the next one
        _wait_for(lambda: engine.describe(first).status != "RUNNING", "the first execution")
        execution = continue_if_due(svc.store, engine, fp, 1, engine.describe(first))
        assert execution is not None and execution != first
        _wait_for(validator.entered.is_set, "ValidatePatch")
        # Express's cap ends the execution: nothing after this point runs in it
        engine.client.stop_execution(executionArn=execution, error="States.Timeout",
                                     cause="Express 5-minute limit")
        rec = svc.store.get(fp)
        assert rec is not None and rec.status == Status.FIXING
        running = rec.current_attempt
        assert running is not None and running.steps[-1].state == "ValidatePatch"
        deadline = attempt_deadline(running, SweepPolicy())

        early = sweep(svc.store, SweepPolicy(), artifacts=svc.artifacts, now=deadline - timedelta(seconds=1))
        assert early.lost == [] and svc.store.get(fp).status == Status.FIXING  # type: ignore[union-attr]
        report = sweep(svc.store, SweepPolicy(), artifacts=svc.artifacts, now=deadline + timedelta(seconds=1))
        assert report.lost == [(fp, 1, "ValidatePatch")] and report.past_deadline == 1
        validator.release.set()

        rec = svc.store.get(fp)
        assert rec is not None and rec.status == Status.FAILED and (rec.status_reason or "").startswith(LOST)
        att = rec.attempts[-1]
        assert (att.outcome, att.failed_state, att.error, att.reasons) == ("failed", "ValidatePatch",
                                                                            LOST_ERROR, [LOST])
        payload = redrive_payload(rec, svc.artifacts)
        assert payload["resume_from"] == "ValidatePatch"
        out = run_execution(svc.store, engine, fp, payload=payload, timeout=60)

    assert out.status == Status.PR_OPEN and out.attempt == 2
    assert len(model.calls) == 1  # the model's reply of attempt 1 was validated, not asked again
    second = svc.store.get(fp).attempts[1]  # type: ignore[union-attr]
    assert "InvokeModel" not in [s.state for s in second.steps]


def test_a_live_owner_is_never_swept_and_a_dead_one_at_once(tmp_path: Path) -> None:
    svc = make_services(tmp_path)
    fp = seed_error(svc.store)
    svc.store.transition(fp, Status.FIXING)
    svc.store.start_attempt(fp, None)
    home = tmp_path / "home"
    policy = SweepPolicy(owner_alive=owner_alive(home))
    lease = Lease(home, fp, 1)  # this process
    far = utcnow() + timedelta(hours=2)
    assert sweep(svc.store, policy, now=far).lost == []  # alive: even past the time deadline
    lease.release()

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    path = home / "leases" / f"{fp}-1.json"
    Lease(home, fp, 1)
    path.write_text(path.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {int(dead.stdout)}'))
    info = find_lease(home, fp, 1)
    assert info is not None and not info.alive()
    report = sweep(svc.store, policy)  # now: long before any time deadline
    assert report.lost == [(fp, 1, "FetchSource")]
    assert svc.store.get(fp).status == Status.FAILED  # type: ignore[union-attr]


class WatchingStore:
    """Records, at the moment the error becomes FAILED, what a re-drive would read."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seen_at_failed: list[str | None] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def transition(self, fingerprint: str, to: Status, **kwargs: Any) -> Any:
        if to == Status.FAILED:
            att = self.inner.get(fingerprint).current_attempt
            self.seen_at_failed.append(att.failed_state if att else None)
        return self.inner.transition(fingerprint, to, **kwargs)


def test_record_failure_writes_the_failed_state_before_failed(tmp_path: Path) -> None:
    from selfheal.errors import CodeHostAuthFailed
    from tests.support.workflow_fakes import MemoryCodeHost, MemoryErrorStore

    host = MemoryCodeHost()
    host.fail_open = [CodeHostAuthFailed("401 bad credentials")]
    store = WatchingStore(MemoryErrorStore())
    svc = make_services(tmp_path, store=store, code_host=host)
    fp = seed_error(store)
    with local_engine(svc) as engine:
        out = run_execution(store, engine, fp, timeout=60)  # type: ignore[arg-type]
    assert out.status == Status.FAILED
    # a re-drive that saw FAILED would have found where to resume: never from the start
    assert store.seen_at_failed == ["OpenPullRequest"]


def start_like_start_fix(store: Any, engine: Any, fp: str) -> str:
    """What start_fix does on AWS: FIXING, an attempt, an execution (nobody follows it here)."""
    from selfheal.services.dispatch import FixRequest, FixStarter
    from selfheal.services.policy import Policy

    started = FixStarter(store, engine, Policy()).start(FixRequest(fingerprint=fp, reason="new"))
    assert started.execution is not None
    return started.execution
