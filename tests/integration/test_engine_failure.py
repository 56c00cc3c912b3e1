"""A permanent error is caught (States.ALL) into RecordFailure, which writes the failed state,
the error class and its cause on the error record; retries exhausted end the same way."""

from __future__ import annotations

from pathlib import Path

from selfheal.domain.records import Status
from selfheal.errors import CodeHostAuthFailed, CodeHostUnavailable
from selfheal.services.workflow.runner import run_execution
from tests.support.workflow_fakes import MemoryCodeHost, local_engine, make_services, seed_error


def test_permanent_error_is_caught_into_record_failure(tmp_path: Path) -> None:
    host = MemoryCodeHost()
    host.fail_open = [CodeHostAuthFailed("401 bad credentials")]
    svc = make_services(tmp_path, code_host=host)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        out = run_execution(svc.store, engine, fp, timeout=60)
        info = engine.describe(out.execution_id)

    assert info.status == "FAILED" and info.error == "FixFailed"
    assert out.status == Status.FAILED
    assert (out.failed_state, out.error) == ("OpenPullRequest", "CodeHostAuthFailed")
    assert out.cause == "401 bad credentials"
    assert host.open_calls == 1  # permanent: not retried
    record = svc.store.get(fp)
    assert record is not None and "OpenPullRequest" in (record.status_reason or "")
    att = record.attempts[-1]
    assert att.outcome == "failed" and att.finished_at is not None
    states = [(v.state, v.outcome) for v in out.path]
    assert ("OpenPullRequest", "caught") in states and states[-1] == ("RecordFailure", "succeeded")


def test_transient_error_that_never_clears_ends_in_record_failure(tmp_path: Path) -> None:
    host = MemoryCodeHost()
    host.fail_open = [CodeHostUnavailable(f"502 #{i}") for i in range(10)]
    svc = make_services(tmp_path, code_host=host)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        out = run_execution(svc.store, engine, fp, timeout=60)

    assert out.status == Status.FAILED and out.error == "CodeHostUnavailable"
    assert host.open_calls == 2  # first try + MaxAttempts 1 (the Express budget)
    pr_runs = [s for s in svc.store.get(fp).attempts[-1].steps  # type: ignore[union-attr]
               if s.state == "OpenPullRequest"]
    assert [s.outcome for s in pr_runs] == ["retried", "failed"]
