"""Issue #11, "nothing is ever stuck": the order of a step's writes.

- A final state (MarkDone, RecordAbstain, like RecordFailure) finishes its attempt first and only
  then moves the error's status: whoever sees PR_OPEN / ABSTAINED sees the attempt finished. A
  retry after the first half (the status write failed) is refused by the recorder and still
  completes the status.
- A step refused by the recorder's conditional start write leaves nothing behind, not even its
  input artifact (the record names the artifact first, the artifact is written after).
- A step that is running when its attempt is swept (lost) still writes its end record, which
  changes neither the attempt's outcome nor the error's status; a final state's conditional
  finish loses to the sweep.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from selfheal import known_secrets
from selfheal.adapters.artifacts_fs import FsArtifactStore
from selfheal.adapters.artifacts_s3 import S3ArtifactStore
from selfheal.domain.fixing import ModelReply, Prompt
from selfheal.domain.records import ErrorRecord, Status, StepRecord, utcnow
from selfheal.errors import AttemptFinished, StoreUnavailable
from selfheal.names import Artifact
from selfheal.services.workflow.catalogue import REFUSED_KEY, run_state
from selfheal.services.workflow.runner import redrive_payload, run_execution
from selfheal.services.workflow.sweeper import LOST, LOST_ERROR, SweepPolicy, mark_lost, sweep
from tests.support.tracking_stores import dynamodb_store, sqlite_store
from tests.support.workflow_fakes import (
    GOOD_REPLY,
    ScriptedModel,
    local_engine,
    make_services,
    seed_error,
)

FINAL = {Status.PR_OPEN: "pr_open", Status.ABSTAINED: "abstained", Status.FAILED: "failed"}
DONE = {"branch": "selfheal/x", "pr_url": "local://pr/7", "commit": "c1", "revision": "r1"}


@pytest.fixture(params=["sqlite", "dynamodb"])
def real_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    ctx = sqlite_store(tmp_path) if request.param == "sqlite" else dynamodb_store()
    with ctx as store:
        yield store


class Observed:
    """An ``ErrorStore`` that notes, whenever the status moves to a final one, the outcome the
    current attempt had at that moment; ``fail_final`` makes that many such moves fail first
    (a throttled write) after noting them."""

    def __init__(self, inner: Any, fail_final: int = 0) -> None:
        self.inner = inner
        self.seen: list[tuple[Status, str | None]] = []
        self.fail_final = fail_final

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def transition(self, fingerprint: str, to: Status, **kwargs: Any) -> ErrorRecord:
        if to in FINAL:
            rec = self.inner.get(fingerprint)
            self.seen.append((to, rec.current_attempt.outcome if rec.current_attempt else None))
            if self.fail_final:
                self.fail_final -= 1
                raise StoreUnavailable("throttled (test)")
        result: ErrorRecord = self.inner.transition(fingerprint, to, **kwargs)
        return result


def fixing(store: Any, fingerprint: str = "f" * 16 + "0123456789abcdef") -> str:
    """An error in FIXING with a running attempt 1 (as a starter leaves it)."""
    fp = seed_error(store, fingerprint)
    store.transition(fp, Status.FIXING)
    store.start_attempt(fp, "exec-1")
    return fp


def record(svc: Any, fp: str) -> ErrorRecord:
    rec = svc.store.get(fp)
    assert rec is not None
    return rec


# --- 1. the attempt first, then the status -----------------------------------------------------

@pytest.mark.parametrize(("state", "extra", "status"), [
    ("MarkDone", DONE, Status.PR_OPEN),
    ("RecordAbstain", {"reasons": ["round 1: gate tests failed"]}, Status.ABSTAINED),
    ("RecordFailure", {"failure": {"Error": "SourceNotFound", "Cause": "no file"}}, Status.FAILED),
])
def test_a_final_state_finishes_the_attempt_before_the_status_moves(
        tmp_path: Path, real_store: Any, state: str, extra: dict[str, Any], status: Status) -> None:
    svc = make_services(tmp_path, store=Observed(real_store))
    fp = fixing(real_store)
    out = run_state(state, svc, {"fingerprint": fp, "attempt": 1, **extra})
    assert REFUSED_KEY not in out
    assert svc.store.seen == [(status, FINAL[status])]  # type: ignore[attr-defined]
    rec = record(svc, fp)
    assert rec.status == status and rec.attempts[0].outcome == FINAL[status]
    if status == Status.PR_OPEN:
        assert (rec.branch, rec.pr_url) == ("selfheal/x", "local://pr/7")


@pytest.mark.parametrize(("model", "status"), [
    (ScriptedModel([GOOD_REPLY]), Status.PR_OPEN),
    (ScriptedModel(["ABSTAIN: the crash is in a third-party library"]), Status.ABSTAINED),
])
def test_through_the_asl_whoever_sees_the_final_status_sees_the_attempt_finished(
        tmp_path: Path, model: ScriptedModel, status: Status) -> None:
    with sqlite_store(tmp_path) as inner:
        svc = make_services(tmp_path, store=Observed(inner), model=model)
        fp = seed_error(inner)
        with local_engine(svc) as engine:
            out = run_execution(svc.store, engine, fp, timeout=60)
        assert out.status == status
        assert svc.store.seen == [(status, FINAL[status])]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("model", "status"), [
    (ScriptedModel([GOOD_REPLY]), Status.PR_OPEN),
    (ScriptedModel(["ABSTAIN: the crash is in a third-party library"]), Status.ABSTAINED),
])
def test_a_retry_after_the_attempt_finished_completes_the_status(
        tmp_path: Path, model: ScriptedModel, status: Status) -> None:
    """The status write fails once (StoreUnavailable, retried by the ASL): the retry's start is
    refused (its attempt is finished), and it still moves the error to the final status, not
    leaving it FIXING with a finished attempt."""
    with sqlite_store(tmp_path) as inner:
        svc = make_services(tmp_path, store=Observed(inner, fail_final=1), model=model)
        fp = seed_error(inner)
        with local_engine(svc) as engine:
            out = run_execution(svc.store, engine, fp, timeout=60)
        assert out.engine_status == "SUCCEEDED"
        rec = record(svc, fp)
        assert rec.status == status and rec.attempts[-1].outcome == FINAL[status]
        assert svc.store.seen == [(status, FINAL[status])] * 2  # type: ignore[attr-defined]
        if status == Status.PR_OPEN:
            assert rec.pr_url == "local://pr/1" and rec.branch
        assert len(model.calls) == 1


def test_when_every_retry_fails_the_catchs_record_failure_settles_the_open_pr(tmp_path: Path) -> None:
    """MarkDone's status write fails on the first run and on both ASL retries (which are refused
    and try to settle): the Catch's RecordFailure is refused too and settles PR_OPEN from the
    payload it carries, so an open pull request is never turned into FAILED."""
    with sqlite_store(tmp_path) as inner:
        svc = make_services(tmp_path, store=Observed(inner, fail_final=3))
        fp = seed_error(inner)
        with local_engine(svc) as engine:
            run_execution(svc.store, engine, fp, timeout=60)
        rec = record(svc, fp)
        assert rec.status == Status.PR_OPEN and rec.pr_url == "local://pr/1"
        assert rec.attempts[-1].outcome == "pr_open"
        assert "RecordFailure" not in {s.state for s in rec.attempts[-1].steps}  # refused: no step
        assert svc.store.seen == [(Status.PR_OPEN, "pr_open")] * 4  # type: ignore[attr-defined]


@pytest.mark.parametrize(("state", "extra", "status"), [
    ("MarkDone", DONE, Status.PR_OPEN),
    ("RecordAbstain", {"reasons": ["round 1: gate tests failed"]}, Status.ABSTAINED),
    ("RecordFailure", {"failure": {"Error": "SourceNotFound", "Cause": "no file"}}, Status.FAILED),
])
def test_a_repeat_of_a_half_done_final_state_settles_it_on_each_store(
        tmp_path: Path, real_store: Any, state: str, extra: dict[str, Any], status: Status) -> None:
    svc = make_services(tmp_path, store=Observed(real_store, fail_final=1))
    fp = fixing(real_store)
    event = {"fingerprint": fp, "attempt": 1, **extra}
    with pytest.raises(StoreUnavailable):
        run_state(state, svc, dict(event))
    assert record(svc, fp).status == Status.FIXING  # half done: the attempt is finished
    out = run_state(state, svc, dict(event))  # the ASL's retry
    assert "status now follows the attempt's outcome" in out[REFUSED_KEY]
    rec = record(svc, fp)
    assert rec.status == status and rec.attempts[0].outcome == FINAL[status]
    assert rec.pr_url == ("local://pr/7" if status == Status.PR_OPEN else None)
    if status == Status.FAILED:
        assert rec.status_reason == "unknown: SourceNotFound: no file"
    again = run_state(state, svc, dict(event))  # a third delivery changes nothing
    assert "status now follows" not in again[REFUSED_KEY]
    assert record(svc, fp).model_dump() == rec.model_dump()


@pytest.mark.parametrize(("state", "extra", "status"), [
    ("MarkDone", DONE, Status.PR_OPEN),
    ("RecordAbstain", {"reasons": ["round 1: gate tests failed"]}, Status.ABSTAINED),
])
def test_the_sweeper_gives_a_half_done_fix_its_outcome_not_lost(
        tmp_path: Path, real_store: Any, state: str, extra: dict[str, Any], status: Status) -> None:
    """The execution died between the final state's two writes (no retry came): past the
    deadline the sweeper moves the error to the status its attempt's outcome names (PR_OPEN
    with the branch and URL of MarkDone's recorded input), not to FAILED ``lost``."""
    svc = make_services(tmp_path, store=Observed(real_store, fail_final=1))
    fp = fixing(real_store)
    with pytest.raises(StoreUnavailable):
        run_state(state, svc, {"fingerprint": fp, "attempt": 1, **extra})
    later = utcnow() + timedelta(hours=1)
    assert sweep(real_store, SweepPolicy(), artifacts=svc.artifacts, now=utcnow()).settled == []  # in grace
    report = sweep(real_store, SweepPolicy(), artifacts=svc.artifacts, now=later)
    assert report.settled == [fp] and report.lost == []
    rec = record(svc, fp)
    assert rec.status == status and rec.attempts[0].outcome == FINAL[status]
    if status == Status.PR_OPEN:
        assert (rec.branch, rec.pr_url) == ("selfheal/x", "local://pr/7")
    # without an outcome to follow (FIXING, no attempt) it is still lost
    other = seed_error(real_store, "d" * 32)
    real_store.transition(other, Status.FIXING)
    report = sweep(real_store, SweepPolicy(), artifacts=svc.artifacts, now=later)
    assert report.lost == [(other, 0, "FetchSource")] and record(svc, other).status == Status.FAILED


# --- 2. a refused step writes nothing -----------------------------------------------------------

class FinishedMeanwhile:
    """An ``ErrorStore`` on which the attempt finishes (a sweep, say) between the recorder's
    look and its conditional start write."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def record_step(self, fingerprint: str, attempt: int, step: Any, *, only_running: bool = False) -> None:
        if only_running:
            self.inner.finish_attempt(fingerprint, attempt, outcome="failed", failed_state="BuildPrompt",
                                      error=LOST_ERROR, cause=f"{LOST}: test", finished_at=utcnow())
        self.inner.record_step(fingerprint, attempt, step, only_running=only_running)


BUILD_PROMPT = {"attempt": 1, "revision": "r1", "artifacts": {"context": "ctx-ref"}}


def test_a_step_refused_at_its_start_records_nothing_and_names_no_artifact(tmp_path: Path) -> None:
    """The attempt finished between the recorder's look and its conditional write: no step
    record, no status change; the input stored just before stays unnamed (retention removes it)."""
    svc = make_services(tmp_path)
    fp = fixing(svc.store)
    svc.store = FinishedMeanwhile(svc.store)  # type: ignore[assignment]
    before = record(svc, fp)
    with pytest.raises(AttemptFinished):
        run_state("BuildPrompt", svc, {"fingerprint": fp, **BUILD_PROMPT})
    stored = [p for p in (tmp_path / "artifacts").rglob("*") if p.is_file()]
    assert len(stored) <= 1 and all(p.name.endswith("-BuildPrompt.input.json") for p in stored)
    after = record(svc, fp)
    assert after.attempts[0].steps == before.attempts[0].steps == []
    assert after.status == before.status


def test_a_step_refused_at_its_start_in_s3_and_a_running_one_names_its_stored_input(tmp_path: Path) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifacts")
        svc = make_services(tmp_path)
        svc.artifacts = S3ArtifactStore("artifacts", client=s3)
        fp = fixing(svc.store)
        svc.store = FinishedMeanwhile(svc.store)  # type: ignore[assignment]
        with pytest.raises(AttemptFinished):
            run_state("BuildPrompt", svc, {"fingerprint": fp, **BUILD_PROMPT})
        assert s3.list_objects_v2(Bucket="artifacts").get("KeyCount", 0) <= 1  # the unnamed input
        assert record(svc, fp).attempts[0].steps == []
        # the same store on a running attempt: the start record names the input it stored
        svc.store = svc.store.inner  # type: ignore[attr-defined]
        fp2 = fixing(svc.store, "e" * 32)
        run_state("FetchSource", svc, {"fingerprint": fp2, "attempt": 1})
        step = record(svc, fp2).attempts[0].steps[0]
        assert step.state == "FetchSource" and step.outcome == "succeeded"
        assert svc.artifacts.get_bytes(step.artifacts[Artifact.INPUT]).startswith(b'{"fingerprint"')


def test_reference_is_what_put_returns(tmp_path: Path) -> None:
    """The start record names the input before it is written: ``reference`` must be the very
    reference ``put_bytes`` returns, secret scrubbing (which changes the S3 digest) included."""
    known_secrets.register("hunter2-token-value")
    try:
        data = b'{"note": "hunter2-token-value"}'
        fs = FsArtifactStore(tmp_path / "a")
        assert fs.reference("fp/attempt-1/x.json", data) == fs.put_bytes("fp/attempt-1/x.json", data)
        with mock_aws():
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket="artifacts")
            store = S3ArtifactStore("artifacts", client=s3)
            ref = store.reference("fp/attempt-1/x.json", data)
            assert ref == store.put_bytes("fp/attempt-1/x.json", data)
            assert b"hunter2" not in store.get_bytes(ref)
    finally:
        known_secrets.forget_all()


def test_a_redrive_skips_a_run_whose_input_was_never_stored(tmp_path: Path) -> None:
    """Should a start record name an input that does not exist (an artifact store that lost it),
    a re-drive from that state takes the run before it instead of failing."""
    svc = make_services(tmp_path)
    fp = fixing(svc.store)
    prompted = run_state("BuildPrompt", svc, run_state("FetchSource", svc, {"fingerprint": fp, "attempt": 1}))
    run_state("InvokeModel", svc, dict(prompted))  # attempt 1's run, input stored
    svc.store.finish_attempt(fp, 1, outcome="failed", failed_state="ValidatePatch", error="X", cause="y")
    svc.store.transition(fp, Status.FAILED)
    svc.store.transition(fp, Status.FIXING)
    svc.store.start_attempt(fp, "exec-2")
    never = svc.artifacts.reference(f"{fp}/attempt-2/steps/x-InvokeModel.input.json", b"{}")
    svc.store.record_step(fp, 2, StepRecord(state="InvokeModel", started_at=utcnow(),
                                            artifacts={Artifact.INPUT: never}))
    svc.store.finish_attempt(fp, 2, outcome="failed", failed_state="InvokeModel", error="X", cause="y")
    svc.store.transition(fp, Status.FAILED)
    data = redrive_payload(record(svc, fp), svc.artifacts, "InvokeModel")
    assert data["resume_from"] == "InvokeModel" and data["artifacts"] == prompted["artifacts"]


class NoInputs(FsArtifactStore):
    def put_bytes(self, key: str, data: bytes) -> str:
        if key.endswith(".input.json"):
            raise StoreUnavailable("S3 slow down (test)")
        return super().put_bytes(key, data)


def test_an_input_that_could_not_be_stored_is_named_by_no_step(tmp_path: Path) -> None:
    """The input is stored before the start record: when that fails (retryable; the ASL retries
    the state), no record names an input that does not exist."""
    svc = make_services(tmp_path)
    svc.artifacts = NoInputs(tmp_path / "artifacts")
    fp = fixing(svc.store)
    with pytest.raises(StoreUnavailable):
        run_state("BuildPrompt", svc, {"fingerprint": fp, **BUILD_PROMPT})
    assert all(Artifact.INPUT not in step.artifacts for step in record(svc, fp).attempts[0].steps)


# --- 3. swept while it ran ----------------------------------------------------------------------

def sweep_now(store: Any, fp: str) -> None:
    rec = store.get(fp)
    assert mark_lost(store, rec, rec.current_attempt, "test sweep") is not None


class SweptModel(ScriptedModel):
    """Answers, but the attempt is swept (lost) while it thinks."""

    store: Any = None

    def complete(self, prompt: Prompt) -> ModelReply:
        sweep_now(self.store, prompt.context.fingerprint if prompt.context else "")
        return super().complete(prompt)


def outcome_of(rec: ErrorRecord) -> tuple[Any, ...]:
    att = rec.attempts[0]
    return (rec.status, rec.status_reason, rec.pr_url, att.outcome, att.failed_state, att.error,
            att.cause, att.reasons, att.finished_at)


def test_a_step_swept_while_it_ran_ends_its_record_and_moves_nothing(
        tmp_path: Path, real_store: Any) -> None:
    model = SweptModel([GOOD_REPLY])
    model.store = real_store
    svc = make_services(tmp_path, store=real_store, model=model)
    fp = fixing(real_store)
    payload = run_state("FetchSource", svc, {"fingerprint": fp, "attempt": 1})
    payload = run_state("BuildPrompt", svc, payload)
    payload = run_state("InvokeModel", svc, payload)  # swept inside; its work is done
    rec = record(svc, fp)
    assert outcome_of(rec)[:1] + outcome_of(rec)[3:6] == (Status.FAILED, "failed", "InvokeModel", LOST_ERROR)
    step = rec.attempts[0].steps[-1]
    assert step.state == "InvokeModel" and step.outcome == "succeeded"  # how it really ended
    assert Artifact.REPLY in step.artifacts
    assert rec.attempts[0].tokens_in == 100  # the call was paid: its cost stays recorded
    assert redrive_payload(rec, svc.artifacts)["resume_from"] == "InvokeModel"  # the sweeper's state
    after_end = outcome_of(rec)
    with pytest.raises(AttemptFinished):
        run_state("ValidatePatch", svc, payload)  # the next state is refused
    assert outcome_of(record(svc, fp)) == after_end


class SweptAtFinish:
    """An ``ErrorStore`` on which the attempt is swept just before a final state finishes it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def finish_attempt(self, fingerprint: str, attempt: int, **fields: Any) -> None:
        sweep_now(self.inner, fingerprint)
        self.inner.finish_attempt(fingerprint, attempt, **fields)


@pytest.mark.parametrize(("state", "extra"), [
    ("MarkDone", DONE),
    ("RecordAbstain", {"reasons": ["round 1: gate tests failed"]}),
    ("RecordFailure", {"failure": {"Error": "SourceNotFound", "Cause": "no file"}}),
])
def test_a_final_state_swept_while_it_ran_keeps_the_sweeps_outcome(
        tmp_path: Path, real_store: Any, state: str, extra: dict[str, Any]) -> None:
    svc = make_services(tmp_path, store=SweptAtFinish(real_store))
    fp = fixing(real_store)
    out = run_state(state, svc, {"fingerprint": fp, "attempt": 1, **extra})
    assert "attempt 1" in out[REFUSED_KEY]
    rec = record(svc, fp)
    assert rec.status == Status.FAILED and rec.pr_url is None
    att = rec.attempts[0]
    resumes_at = state if state == "MarkDone" else "FetchSource"  # the sweep's resume state
    assert (att.outcome, att.error, att.failed_state, att.reasons) == ("failed", LOST_ERROR,
                                                                       resumes_at, [LOST])
    assert att.steps[-1].state == state and att.steps[-1].error == "AttemptFinished"
