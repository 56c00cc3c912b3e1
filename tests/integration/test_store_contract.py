"""One contract suite for ``ErrorStore``, run against every adapter: SQLite file and DynamoDB (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from selfheal.domain.records import Status, StepRecord
from selfheal.errors import AttemptFinished, ConcurrentUpdate, ErrorNotFound, InvalidTransition
from selfheal.ports import ErrorStore
from tests.support.tracking_stores import dynamodb_store, obs, sqlite_store

FP = "a" * 32
FP2 = "b" * 32


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    ctx = sqlite_store(tmp_path) if request.param == "sqlite" else dynamodb_store()
    with ctx as s:
        yield s


def test_adapter_satisfies_port(store: Any) -> None:
    assert isinstance(store, ErrorStore)


def test_observe_creates_then_counts(store: Any) -> None:
    t0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    first = store.observe(obs(FP, 3, seen_at=t0))
    assert first.created and first.previous_status is None
    assert first.record.status == Status.NEW and first.record.count == 3
    second = store.observe(obs(FP, 2, seen_at=t0 + timedelta(minutes=5), message="changed"))
    assert not second.created and second.previous_status == Status.NEW
    assert second.record.count == 5
    rec = store.get(FP)
    assert rec is not None
    assert rec.count == 5
    assert rec.first_seen == t0 and rec.last_seen == t0 + timedelta(minutes=5)
    assert rec.message == "'user'"  # the first sample is kept
    assert rec.exc_type == "KeyError" and rec.frames[0].file == "app/handlers.py"
    assert rec.sample_trace.endswith("KeyError: 'user'")
    assert store.get(FP2) is None


def test_list_by_status_newest_seen_first(store: Any) -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    store.observe(obs(FP, seen_at=t0))
    store.observe(obs(FP2, seen_at=t0 + timedelta(hours=1)))
    store.observe(obs("c" * 32, seen_at=t0 + timedelta(hours=2)))
    store.transition("c" * 32, Status.IGNORED, reason="noise")
    assert [r.fingerprint for r in store.list()] == ["c" * 32, FP2, FP]
    assert [r.fingerprint for r in store.list(Status.NEW)] == [FP2, FP]
    assert [r.fingerprint for r in store.list(Status.IGNORED)] == ["c" * 32]
    assert store.list(Status.FIXING) == []
    assert len(store.list(limit=1)) == 1
    assert store.find("c" * 4) == ["c" * 32]
    assert store.find("d") == []


def test_transition_rules(store: Any) -> None:
    store.observe(obs(FP))
    rec = store.transition(FP, Status.FIXING, expected=[Status.NEW], reason="fix started")
    assert rec.status == Status.FIXING and rec.status_reason == "fix started"
    # a second worker expecting NEW loses the race
    with pytest.raises(ConcurrentUpdate):
        store.transition(FP, Status.FIXING, expected=[Status.NEW])
    with pytest.raises(InvalidTransition):
        store.transition(FP, Status.NEW)
    rec = store.transition(FP, Status.PR_OPEN, fields={"branch": "selfheal/aaaa", "pr_url": "http://pr/1"})
    assert rec.pr_url == "http://pr/1" and rec.branch == "selfheal/aaaa"
    store.transition(FP, Status.RESOLVED)
    rec = store.transition(FP, Status.REGRESSED, expected=[Status.RESOLVED],
                           fields={"previous_pr_url": "http://pr/1"})
    assert rec.previous_pr_url == "http://pr/1"
    got = store.get(FP)
    assert got is not None and got.status == Status.REGRESSED
    with pytest.raises(ErrorNotFound):
        store.transition(FP2, Status.IGNORED)


def test_observe_keeps_status(store: Any) -> None:
    store.observe(obs(FP))
    store.transition(FP, Status.RESOLVED)
    res = store.observe(obs(FP))
    assert res.previous_status == Status.RESOLVED and res.record.status == Status.RESOLVED
    assert res.record.count == 2


def test_attempts_steps_and_usage(store: Any) -> None:
    store.observe(obs(FP))
    store.observe(obs(FP2))
    a1 = store.start_attempt(FP, "exec-1")
    a2 = store.start_attempt(FP, None)
    assert (a1.number, a2.number) == (1, 2)
    assert store.start_attempt(FP2, None).number == 1
    t = datetime(2026, 11, 1, 12, tzinfo=UTC)
    store.record_step(FP, 2, StepRecord(state="FetchSource", started_at=t))
    store.record_step(FP, 2, StepRecord(state="BuildPrompt", started_at=t + timedelta(seconds=1)))
    # replace by (state, started_at)
    store.record_step(FP, 2, StepRecord(state="FetchSource", started_at=t, outcome="succeeded",
                                        duration_ms=12, artifacts={"source": "s3://b/k"}))
    store.finish_attempt(FP, 2, outcome="abstained", reasons=["tests fail"], finished_at=t,
                         execution="exec-2")
    store.add_usage(FP, 2, 100, 20, 0.25)
    store.add_usage(FP, 2, 10, 2, 0.5)
    rec = store.get(FP)
    assert rec is not None
    assert [a.number for a in rec.attempts] == [1, 2]
    assert rec.attempts[0].execution == "exec-1"
    cur = rec.current_attempt
    assert cur is not None and cur.outcome == "abstained" and cur.reasons == ["tests fail"]
    assert cur.execution == "exec-2" and cur.finished_at == t
    assert [(s.state, s.outcome) for s in cur.steps] == [("FetchSource", "succeeded"),
                                                          ("BuildPrompt", "running")]
    assert cur.steps[0].artifacts == {"source": "s3://b/k"} and cur.steps[0].duration_ms == 12
    assert (cur.tokens_in, cur.tokens_out) == (110, 22) and cur.cost_usd == pytest.approx(0.75)
    assert (rec.tokens_in, rec.tokens_out) == (110, 22) and rec.cost_usd == pytest.approx(0.75)
    now = datetime.now(UTC)
    assert store.count_attempts_since(now - timedelta(hours=1)) == 3
    assert store.count_attempts_since(now + timedelta(minutes=2)) == 0
    assert store.usage_since(now - timedelta(days=1)) == pytest.approx(0.75)
    assert store.usage_since(now + timedelta(minutes=2)) == 0
    # the attempt bookkeeping never shows up as an error
    assert {r.fingerprint for r in store.list()} == {FP, FP2}


def test_attempt_operations_on_missing_records(store: Any) -> None:
    with pytest.raises(ErrorNotFound):
        store.start_attempt(FP, None)
    store.observe(obs(FP))
    with pytest.raises(ErrorNotFound):
        store.record_step(FP, 1, StepRecord(state="FetchSource", started_at=datetime.now(UTC)))
    with pytest.raises(ErrorNotFound):
        store.finish_attempt(FP, 1, outcome="failed")
    with pytest.raises(ErrorNotFound):
        store.add_usage(FP, 1, 1, 1, 0.1)
    store.start_attempt(FP, None)
    with pytest.raises(ValueError):
        store.finish_attempt(FP, 1, count=3)


def test_a_step_starts_only_on_a_running_attempt(store: Any) -> None:
    """Issue #11 (zombie steps): the recorder's start write (``only_running``) is conditional on
    the attempt still running; on a finished attempt it raises ``AttemptFinished`` and writes
    nothing. Bookkeeping writes (a re-drive's marker, a failed step) stay unconditional."""
    store.observe(obs(FP))
    store.start_attempt(FP, "exec-1")
    t = datetime(2026, 11, 1, 12, tzinfo=UTC)
    store.record_step(FP, 1, StepRecord(state="FetchSource", started_at=t), only_running=True)
    with pytest.raises(ErrorNotFound):
        store.record_step(FP, 2, StepRecord(state="FetchSource", started_at=t), only_running=True)
    for outcome in ("failed", "pr_open", "abstained"):
        store.finish_attempt(FP, 1, outcome=outcome, finished_at=t)
        with pytest.raises(AttemptFinished, match=outcome):
            store.record_step(FP, 1, StepRecord(state="OpenPullRequest", started_at=t + timedelta(seconds=1)),
                              only_running=True)
        rec = store.get(FP)
        assert rec is not None and [s.state for s in rec.attempts[0].steps] == ["FetchSource"]
    store.record_step(FP, 1, StepRecord(state="Redrive", started_at=t + timedelta(seconds=2),
                                        outcome="succeeded"))
    rec = store.get(FP)
    assert rec is not None and [s.state for s in rec.attempts[0].steps] == ["FetchSource", "Redrive"]


def test_an_attempt_finishes_once_when_asked_only_running(store: Any) -> None:
    """Issue #11 (step order): ``finish_attempt(..., only_running=True)`` writes only on a running
    attempt; the first outcome stays (a final state and the sweeper racing)."""
    store.observe(obs(FP))
    store.start_attempt(FP, "exec-1")
    t = datetime(2026, 11, 1, 12, tzinfo=UTC)
    store.finish_attempt(FP, 1, only_running=True, outcome="failed", error="AttemptLost",
                         reasons=["lost"], finished_at=t)
    with pytest.raises(AttemptFinished, match="failed"):
        store.finish_attempt(FP, 1, only_running=True, outcome="pr_open", finished_at=t + timedelta(1))
    with pytest.raises(ErrorNotFound):
        store.finish_attempt(FP, 2, only_running=True, outcome="pr_open")
    rec = store.get(FP)
    assert rec is not None
    att = rec.attempts[0]
    assert (att.outcome, att.error, att.reasons, att.finished_at) == ("failed", "AttemptLost", ["lost"], t)
    store.finish_attempt(FP, 1, execution="exec-1b")  # unconditional bookkeeping still writes
    rec = store.get(FP)
    assert rec is not None and rec.attempts[0].execution == "exec-1b"


def test_captured_inputs_first_distinct_kept_and_capped(store: Any) -> None:
    from selfheal.domain.capture import make_input
    from selfheal.ports import InputStore

    assert isinstance(store, InputStore)
    store.observe(obs(FP))
    assert store.inputs(FP) == []
    a, b, c, d = (make_input({"n": i, "token": f"sekret-{i}-value"}, "runtime", f"rid-{i}") for i in range(4))
    assert store.add_inputs(FP, [a, a, b], keep=3) == 2
    assert store.add_inputs(FP, [b, c, d], keep=3) == 3  # d comes too late: the first three stay
    assert store.add_inputs(FP, [d], keep=3) == 3
    kept = store.inputs(FP)
    assert [k.digest for k in kept] == [a.digest, b.digest, c.digest]
    assert kept[0].value() == {"n": 0, "token": "[REDACTED:secret]"} and kept[0].request_id == "rid-0"
    rec = store.get(FP)
    assert rec is not None and rec.count == 1  # the record itself is unchanged


def test_captured_inputs_at_their_caps_keep_the_dynamodb_item_under_400_kb() -> None:
    """DynamoDB refuses items over 400 KB: the most inputs settings allow, each at the largest
    cap, plus a full sample trace, still fit (the caps are enforced by Settings)."""
    import pydantic

    from selfheal.domain.capture import make_input
    from selfheal.domain.records import SAMPLE_TRACE_MAX_BYTES
    from selfheal.settings import Settings

    fields = Settings.model_fields
    keep = next(m.le for m in fields["capture_keep"].metadata if hasattr(m, "le"))
    cap = next(m.le for m in fields["capture_max_bytes"].metadata if hasattr(m, "le"))
    with pytest.raises(pydantic.ValidationError):
        Settings(capture_keep=keep + 1)
    with dynamodb_store() as store:
        store.observe(obs(FP).model_copy(update={"sample_trace": "x" * SAMPLE_TRACE_MAX_BYTES}))
        big = [make_input({"n": i, "blob": "é" * cap}, "runtime", max_bytes=cap) for i in range(keep)]
        assert store.add_inputs(FP, big, keep=keep) == keep
        item = store.client.get_item(TableName=store.table_name, Key={"fingerprint": {"S": FP}})["Item"]
        size = sum(len(k.encode()) + len(json.dumps(v, ensure_ascii=False).encode()) for k, v in item.items())
        assert size < 400 * 1024, size
        assert all(i.truncated for i in store.inputs(FP))  # cut to the cap, shown but never replayed


def _v1_trace(root: str) -> str:
    return ("Traceback (most recent call last):\n"
            f'  File "{root}calc/stats.py", line 4, in mean\n'
            "    return total / count\n"
            "ZeroDivisionError: division by zero\n")


def test_old_ids_and_their_prefixes_resolve_to_the_merged_record_after_a_migration(store: Any) -> None:
    """Fingerprint v2 migration (issue #12): v1 ids of one defect merge into one v2 record; each
    old id, and any prefix of old ids, finds (``find``), gets (``get``) and resolves (the CLI's
    and bin/redrive's resolver) to the merged record, the same on every adapter."""
    from selfheal.adapters.sqlite_store import SqliteErrorStore
    from selfheal.adapters.store_migration import migrate_dynamodb, migrate_sqlite
    from selfheal.domain.extract import extract_from_text
    from selfheal.domain.fingerprint import fingerprint
    from selfheal.services.lookup import resolve_fingerprint

    new_id = fingerprint(extract_from_text(_v1_trace("/var/task/"))[0]).id
    old = {"ab01" + "0" * 28: "/srv/releases/20261201/", "ab02" + "0" * 28: "/srv/releases/20261206/"}
    for fp, root in old.items():
        store.observe(obs(fp, 2, exc_type="ZeroDivisionError", message="division by zero").model_copy(
            update={"fingerprint_version": "v1", "sample_trace": _v1_trace(root), "frames": []}))
    if isinstance(store, SqliteErrorStore):
        report = migrate_sqlite(store, force=True)
    else:
        report = migrate_dynamodb(store)
    assert (report.migrated, report.merged) == (2, 1)
    merged = store.get(new_id)
    assert merged is not None and merged.count == 4 and merged.fingerprint_version == "v2"
    for fp in old:
        rec = store.get(fp)
        assert rec is not None and rec.fingerprint == new_id and rec.count == 4
        assert store.find(fp) == [new_id]  # a whole old id
        assert store.find(fp[:6]) == [new_id]  # an old-id prefix
        assert resolve_fingerprint(store, fp[:6].upper()) == new_id
    # Both old ids and the new one under one prefix: one match, not three.
    assert store.find("ab0") == [new_id]
    assert store.find(new_id[:8]) == [new_id]
    assert store.find("ab03") == [] and store.get("ab03" + "0" * 28) is None
    # An old id is not a record of its own: nothing lists it.
    assert [r.fingerprint for r in store.list()] == [new_id]


def _migrate(store: Any, keep_inputs: int = 3) -> Any:
    from selfheal.adapters.sqlite_store import SqliteErrorStore
    from selfheal.adapters.store_migration import migrate_dynamodb, migrate_sqlite

    if isinstance(store, SqliteErrorStore):
        return migrate_sqlite(store, force=True, keep_inputs=keep_inputs)
    return migrate_dynamodb(store, keep_inputs=keep_inputs)


def test_a_migration_keeps_the_captured_inputs_of_merged_records(store: Any) -> None:
    """Issue #12: when v1 records of one defect merge into one v2 record, the failing inputs
    captured under each (issue #14) follow: distinct, replayable before truncated, bounded by
    ``keep`` as ingest bounds them; the old ids hold none, nothing else is lost."""
    from selfheal.domain.capture import make_input
    from selfheal.domain.extract import extract_from_text
    from selfheal.domain.fingerprint import fingerprint

    new_id = fingerprint(extract_from_text(_v1_trace("/var/task/"))[0]).id
    roots = {"ab01" + "0" * 28: "/srv/releases/20261201/", "ab02" + "0" * 28: "/srv/releases/20261206/",
             "ab03" + "0" * 28: "/home/runner/work/s/s/"}
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for n, (fp, root) in enumerate(roots.items()):
        store.observe(obs(fp, 1, exc_type="ZeroDivisionError", message="division by zero",
                          seen_at=t0 + timedelta(days=n)).model_copy(
            update={"fingerprint_version": "v1", "sample_trace": _v1_trace(root), "frames": []}))
    a, b, c = roots
    shared = make_input({"count": 0}, "runtime")
    cut = make_input({"count": 0, "blob": "x" * 600}, "runtime", max_bytes=256)  # shown, never replayed
    assert cut.truncated
    store.add_inputs(a, [shared, cut], keep=3)
    store.add_inputs(b, [shared, make_input({"count": 0, "n": 1}, "runtime")], keep=3)
    store.add_inputs(c, [make_input({"count": 0, "n": 2}, "runtime"), make_input({"n": 3}, "runtime")],
                     keep=3)
    report = _migrate(store, keep_inputs=3)
    assert (report.migrated, report.merged) == (3, 2)
    kept = store.inputs(new_id)
    # oldest record first, the shared input once, replayable ones before the truncated one, three at most
    assert [i.value() for i in kept] == [{"count": 0}, {"count": 0, "n": 1}, {"count": 0, "n": 2}]
    assert all(store.inputs(old) == [] for old in roots)
    # and ingest's bound still holds on the merged record
    assert store.add_inputs(new_id, [make_input({"n": 4}, "runtime")], keep=3) == 3


def test_a_migration_keeps_every_input_when_the_bound_allows(store: Any) -> None:
    from selfheal.domain.capture import make_input

    for n, root in enumerate(("/srv/releases/20261201/", "/srv/releases/20261206/")):
        fp = f"ab0{n}" + "0" * 28
        store.observe(obs(fp, 1, exc_type="ZeroDivisionError", message="division by zero").model_copy(
            update={"fingerprint_version": "v1", "sample_trace": _v1_trace(root), "frames": []}))
        store.add_inputs(fp, [make_input({"n": n}, "runtime"), make_input({"n": n + 10}, "runtime")], keep=2)
    _migrate(store, keep_inputs=5)
    (merged,) = store.list()
    assert sorted(i.value()["n"] for i in store.inputs(merged.fingerprint)) == [0, 1, 10, 11]
    assert merged.count == 2


SECRET = "s3cr3t-Tok3n-Value-9f8e7d6c5b"
CARD = "4111 1111 1111 1111"  # a Luhn-valid test card number, spaced as people write it


def _raw_bytes(store: Any) -> bytes:
    """Everything the adapter holds, as stored: the SQLite file (and its WAL) or the raw item."""
    if hasattr(store, "path"):
        files = [store.path, Path(f"{store.path}-wal")]
        return b"".join(p.read_bytes() for p in files if p.exists())
    if not hasattr(store, "client"):  # the workflow tests' in-memory fake: its record as held
        return str(store.get(FP).model_dump()).encode()
    item = store.client.get_item(TableName=store.table_name, Key={"fingerprint": {"S": FP}})["Item"]
    return json.dumps(item).encode()


def test_workflow_texts_are_scrubbed_of_known_secrets_and_cards(store: Any) -> None:
    import base64

    from selfheal import known_secrets

    known_secrets.register(SECRET)
    b64 = base64.b64encode(SECRET.encode()).decode()
    leaks = [SECRET, b64, SECRET[::-1], CARD, CARD.replace(" ", "")]
    text = f"token {SECRET} b64 {b64} rev {SECRET[::-1]} card {CARD}"
    store.observe(obs(FP))
    store.transition(FP, Status.FIXING, reason=f"started: {text}")
    store.start_attempt(FP, "exec-1")
    t = datetime(2026, 11, 1, 12, tzinfo=UTC)
    store.record_step(FP, 1, StepRecord(state="ValidatePatch", started_at=t, outcome="failed",
                                        error=f"AssertionError: {text}", cause=f"cause {text}"))
    store.finish_attempt(FP, 1, outcome="failed", error=f"E {text}", cause=f"C {text}",
                         reasons=[f"tests fail: {text}", "plain"])
    rec = store.get(FP)
    assert rec is not None
    att = rec.attempts[0]
    step = att.steps[0]
    read_back = [rec.status_reason, att.error, att.cause, *att.reasons, step.error, step.cause]
    raw = _raw_bytes(store)
    for leak in leaks:
        assert all(leak not in (value or "") for value in read_back), leak
        assert leak.encode() not in raw, leak
    # the text around the secrets survives, so the record still says what happened
    assert rec.status_reason is not None and rec.status_reason.startswith("started: token [REDACTED:")
    assert step.error is not None and step.error.startswith("AssertionError: token [REDACTED:")
    assert att.reasons[1] == "plain" and att.outcome == "failed" and step.state == "ValidatePatch"
