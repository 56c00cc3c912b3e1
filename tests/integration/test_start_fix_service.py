"""The start-fix service on a real SQLite store: ordering, duplicates, crashes, cap, local queue."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from selfheal.adapters.sqlite_store import SqliteErrorStore
from selfheal.domain.records import Status, utcnow
from selfheal.errors import ErrorNotFound, FixDeferred, MalformedInput
from selfheal.services.dispatch import FixRequest, FixStarter, LocalDispatcher, parse_fix_request
from selfheal.services.policy import Policy
from tests.support.tracking_stores import obs

FP = "0123456789ab" + "c" * 20


class RecordingStarter:
    """Starts nothing; remembers names like Step Functions does (same name -> same execution)."""

    def __init__(self) -> None:
        self.started: dict[str, dict[str, Any]] = {}
        self.calls = 0

    def start(self, name: str, payload: dict[str, Any]) -> str:
        self.calls += 1
        self.started.setdefault(name, payload)
        return f"arn:exec:{name}"


@pytest.fixture
def store(tmp_path: Path) -> SqliteErrorStore:
    s = SqliteErrorStore(tmp_path / "errors.db")
    s.observe(obs(FP))
    return s


def starter_for(store: SqliteErrorStore, policy: Policy | None = None,
                later: timedelta = timedelta(0)) -> tuple[FixStarter, RecordingStarter]:
    rec = RecordingStarter()
    return FixStarter(store, rec, policy or Policy(), clock=lambda: utcnow() + later), rec


def test_start_then_duplicate_is_noop(store: SqliteErrorStore) -> None:
    fs, rec = starter_for(store)
    out = fs.start(FixRequest(fingerprint=FP, reason="new"))
    assert (out.action, out.attempt, out.execution) == ("started", 1, "arn:exec:0123456789ab-1")
    assert rec.started == {"0123456789ab-1": {"fingerprint": FP, "attempt": 1}}
    again = fs.start(FixRequest(fingerprint=FP, reason="new"))
    assert again.action == "duplicate" and rec.calls == 1
    got = store.get(FP)
    assert got is not None and got.status == Status.FIXING and len(got.attempts) == 1
    assert got.attempts[0].execution == "arn:exec:0123456789ab-1"


def test_stale_request_is_skipped(store: SqliteErrorStore) -> None:
    fs, rec = starter_for(store)
    assert fs.start(FixRequest(fingerprint=FP, reason="redrive")).action == "stale"
    store.transition(FP, Status.IGNORED)
    assert fs.start(FixRequest(fingerprint=FP, reason="new")).action == "stale"
    assert rec.calls == 0


def test_crash_after_claim_is_resumed_later(store: SqliteErrorStore) -> None:
    store.transition(FP, Status.FIXING, expected=[Status.NEW])  # the worker died right after this
    young, _ = starter_for(store)
    with pytest.raises(FixDeferred):  # could still be in flight in another worker
        young.start(FixRequest(fingerprint=FP, reason="new"))
    old, rec = starter_for(store, later=timedelta(minutes=5))
    out = old.start(FixRequest(fingerprint=FP, reason="new"))
    assert (out.action, out.attempt) == ("resumed", 1) and list(rec.started) == ["0123456789ab-1"]


def test_crash_after_attempt_reuses_the_attempt(store: SqliteErrorStore) -> None:
    store.transition(FP, Status.FIXING, expected=[Status.NEW])
    store.start_attempt(FP, None)  # ... and died before StartExecution
    fs, rec = starter_for(store, later=timedelta(minutes=5))
    out = fs.start(FixRequest(fingerprint=FP, reason="new"))
    assert (out.action, out.attempt) == ("resumed", 1)
    got = store.get(FP)
    assert got is not None and len(got.attempts) == 1 and got.attempts[0].execution == out.execution


def test_redrive_starts_the_next_attempt(store: SqliteErrorStore) -> None:
    fs, rec = starter_for(store)
    fs.start(FixRequest(fingerprint=FP, reason="new"))
    store.finish_attempt(FP, 1, outcome="failed", error="ModelThrottled")
    store.transition(FP, Status.FAILED)
    store.transition(FP, Status.QUEUED, reason="re-driven")
    out = fs.start(FixRequest(fingerprint=FP, reason="redrive"))
    assert (out.action, out.attempt) == ("started", 2)
    assert list(rec.started) == ["0123456789ab-1", "0123456789ab-2"]


def test_hourly_cap_defers(store: SqliteErrorStore) -> None:
    other = "d" * 32
    store.observe(obs(other))
    fs, rec = starter_for(store, Policy(max_fixes_per_hour=1))
    fs.start(FixRequest(fingerprint=FP, reason="new"))
    with pytest.raises(FixDeferred):
        fs.start(FixRequest(fingerprint=other, reason="new"))
    got = store.get(other)
    assert got is not None and got.status == Status.NEW and rec.calls == 1


def test_unknown_error_and_poison_bodies(store: SqliteErrorStore) -> None:
    fs, _ = starter_for(store)
    with pytest.raises(ErrorNotFound):
        fs.start(FixRequest(fingerprint="e" * 32, reason="new"))
    for body in ("not json", "{}", '{"fingerprint": "ZZ", "reason": "new"}',
                 f'{{"fingerprint": "{FP}", "reason": "because"}}', None, "[1]"):
        with pytest.raises(MalformedInput):
            parse_fix_request(body)
    assert parse_fix_request(FixRequest(fingerprint=FP, reason="new").body()).fingerprint == FP


def test_local_dispatcher_drains_and_keeps_capped(store: SqliteErrorStore) -> None:
    store.observe(obs("d" * 32))
    fs, rec = starter_for(store, Policy(max_fixes_per_hour=1))
    queue = LocalDispatcher(fs)
    queue.submit(FP)
    queue.submit(FP)  # de-duplicated
    queue.submit("d" * 32)
    outcomes = queue.drain()
    assert [o.fingerprint for o in outcomes] == [FP]
    assert [r.fingerprint for r in queue.pending] == ["d" * 32]
    store.transition(FP, Status.ABSTAINED)
    store.transition(FP, Status.QUEUED)
    queue.pending.clear()
    assert queue.collect_queued() == 1 and queue.pending[0].reason == "redrive"


# --- a person's start (selfheal fix) goes through the same protocol ----------------------------


def test_manual_start_from_a_finished_state_and_with_a_payload(store: SqliteErrorStore) -> None:
    fs, rec = starter_for(store)
    store.transition(FP, Status.FIXING, reason="test")
    store.transition(FP, Status.ABSTAINED, reason="test")
    out = fs.start(FixRequest(fingerprint=FP, reason="manual"), payload={"resume_from": "BuildPrompt"})
    assert (out.action, out.attempt) == ("started", 1)
    assert rec.started == {"0123456789ab-1": {"resume_from": "BuildPrompt", "fingerprint": FP, "attempt": 1}}


def test_manual_start_of_a_running_fix_needs_force(store: SqliteErrorStore) -> None:
    from selfheal.errors import InvalidTransition

    fs, rec = starter_for(store)
    fs.start(FixRequest(fingerprint=FP, reason="new"))  # running (or killed) elsewhere
    with pytest.raises(InvalidTransition, match="--force"):
        fs.start(FixRequest(fingerprint=FP, reason="manual"))
    out = fs.start(FixRequest(fingerprint=FP, reason="manual"), force=True)
    assert (out.action, out.attempt) == ("started", 2)
    first = store.get(FP).attempts[0]  # type: ignore[union-attr]
    assert (first.outcome, first.error) == ("failed", "Abandoned")


def test_manual_start_respects_the_hourly_cap_unless_forced(store: SqliteErrorStore) -> None:
    fs, rec = starter_for(store, Policy(max_fixes_per_hour=1))
    fs.start(FixRequest(fingerprint=FP, reason="new"))
    store.transition(FP, Status.FAILED, reason="test")
    with pytest.raises(FixDeferred):
        fs.start(FixRequest(fingerprint=FP, reason="manual"))
    assert fs.start(FixRequest(fingerprint=FP, reason="manual"), force=True).attempt == 2
