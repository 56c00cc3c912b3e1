"""Migrating stored v1 records to fingerprint v2 (issue #12): records that collide under v2
merge (counts summed, attempts, usage and PR links kept) and old ids stay resolvable."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from moto import mock_aws

from selfheal.adapters.dynamodb_store import DynamoDBErrorStore, create_table
from selfheal.adapters.sqlite_store import SqliteErrorStore
from selfheal.adapters.store_migration import migrate_dynamodb, migrate_sqlite
from selfheal.domain.extract import extract_from_text
from selfheal.domain.fingerprint import fingerprint
from selfheal.domain.records import Observation, Status, StepRecord
from selfheal.ports import ErrorStore
from tests.support.deploy_moto import moto_url

__all__ = ["moto_url"]  # the shared module-scoped moto server fixture

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def trace(root: str, func: str = "mean") -> str:
    return ("Traceback (most recent call last):\n"
            f'  File "{root}calc/stats.py", line 4, in {func}\n'
            "    return total / count\n"
            "ZeroDivisionError: division by zero\n")


V2_ID = fingerprint(extract_from_text(trace("/var/task/"))[0]).id
OLD = {"a" * 32: "/srv/releases/20261201/", "b" * 32: "/srv/releases/20261206/",
       "c" * 32: "/home/runner/work/s/s/"}
OTHER = "d" * 32  # a different defect: re-keyed, merged with nothing


def seed_v1(store: ErrorStore) -> None:
    """Three v1 records of one defect (one with a merged-then-closed PR history, one PR open)
    and one record of another defect, as v1 ingest left them."""
    for n, (fp, root) in enumerate(OLD.items()):
        store.observe(Observation(fingerprint=fp, fingerprint_version="v1", exc_type="ZeroDivisionError",
                                  message="division by zero", sample_trace=trace(root), count=n + 2,
                                  seen_at=T0 + timedelta(days=n)))
    store.observe(Observation(fingerprint=OTHER, fingerprint_version="v1", exc_type="ZeroDivisionError",
                              message="division by zero", sample_trace=trace("/var/task/", "median")))
    # "b": a fix attempt opened a PR.
    store.transition("b" * 32, Status.FIXING)
    att = store.start_attempt("b" * 32, "exec-b-1")
    step = StepRecord(state="GenerateFix", started_at=T0, outcome="succeeded")
    store.record_step("b" * 32, att.number, step)
    store.add_usage("b" * 32, att.number, 100, 20, 0.5)
    store.finish_attempt("b" * 32, att.number, outcome="pr_open")
    store.transition("b" * 32, Status.PR_OPEN, fields={"branch": "selfheal/bbbb", "pr_url": "https://x/pr/2"})
    # "a": an earlier attempt whose PR was closed.
    store.transition("a" * 32, Status.FIXING)
    att = store.start_attempt("a" * 32, "exec-a-1")
    store.finish_attempt("a" * 32, att.number, outcome="failed")
    store.transition("a" * 32, Status.FAILED, fields={"pr_url": "https://x/pr/1"})


def check_merged(store: ErrorStore, waiting: frozenset[str] = frozenset()) -> None:
    merged = store.get(V2_ID)
    assert merged is not None and merged.fingerprint_version == "v2"
    assert merged.count == 2 + 3 + 4
    assert merged.status == Status.PR_OPEN and merged.pr_url == "https://x/pr/2"
    assert merged.previous_pr_url == "https://x/pr/1"
    assert merged.branch == "selfheal/bbbb"
    assert [a.execution for a in merged.attempts] == ["exec-b-1", "exec-a-1"]
    assert [a.number for a in merged.attempts] == [1, 2]
    assert [s.state for s in merged.attempts[0].steps] == ["GenerateFix"]
    assert (merged.first_seen, merged.last_seen) == (T0, T0 + timedelta(days=2))
    assert merged.cost_usd == pytest.approx(0.5)
    for old in OLD:  # old ids stay resolvable
        rec = store.get(old)
        assert rec is not None and rec.fingerprint == V2_ID
    other = store.get(OTHER)
    assert other is not None and other.fingerprint != OTHER and other.count == 1
    assert {r.fingerprint for r in store.list()} == {V2_ID, other.fingerprint, *waiting}


def test_sqlite_store_migrates_an_older_file_once_on_open(tmp_path: Path) -> None:
    path = tmp_path / "errors.db"
    seed_v1(SqliteErrorStore(path))
    with sqlite3.connect(path) as conn:  # as a file written before v2 would be
        conn.execute("PRAGMA user_version = 0")
        conn.execute("DROP TABLE aliases")
    store = SqliteErrorStore(path)
    check_merged(store)
    assert store.find("aaaa") == [V2_ID]
    assert store.usage_since(T0 - timedelta(days=1)) == pytest.approx(0.5)
    # Already current: a second run changes nothing.
    assert migrate_sqlite(store).migrated == 0
    check_merged(SqliteErrorStore(path))


def test_sqlite_migration_report_and_fixing_records_wait(tmp_path: Path) -> None:
    path = tmp_path / "errors.db"
    store = SqliteErrorStore(path)
    seed_v1(store)
    sample = trace("/app/", "lookup").replace("ZeroDivisionError: division by zero", "KeyError: 'x'")
    store.observe(Observation(fingerprint="e" * 32, fingerprint_version="v1", exc_type="KeyError",
                              message="'x'", sample_trace=sample))
    store.transition("e" * 32, Status.FIXING)
    report = migrate_sqlite(store, force=True)
    assert (report.migrated, report.merged) == (4, 2)
    assert report.skipped == ["e" * 32 + ": being fixed; migrated on a later run"]
    waiting = store.get("e" * 32)
    assert waiting is not None and waiting.fingerprint_version == "v1"
    check_merged(store, frozenset({"e" * 32}))


def test_dynamodb_table_migrates_with_alias_items() -> None:
    with mock_aws():
        create_table("errors")
        store = DynamoDBErrorStore("errors")
        seed_v1(store)
        report = migrate_dynamodb(store)
        assert (report.migrated, report.merged, report.skipped) == (4, 2, [])
        check_merged(store)
        assert migrate_dynamodb(store).migrated == 0  # idempotent


def test_a_record_changed_during_the_migration_waits_for_the_next_run() -> None:
    with mock_aws():
        create_table("errors")
        store = DynamoDBErrorStore("errors")
        seed_v1(store)
        real_call = store._call

        def racing_call(op: str, **kwargs: object) -> dict:
            if op == "transact_write_items" and not racing_call.done:  # type: ignore[attr-defined]
                racing_call.done = True  # type: ignore[attr-defined]
                store.observe(Observation(fingerprint="a" * 32, fingerprint_version="v1",
                                          exc_type="ZeroDivisionError", message="division by zero"))
            return real_call(op, **kwargs)

        racing_call.done = False  # type: ignore[attr-defined]
        store._call = racing_call  # type: ignore[method-assign]
        first = migrate_dynamodb(store)
        assert any(s.startswith("a" * 32) for s in first.skipped)
        assert store.get("a" * 32) is not None and store.get("a" * 32).count == 3  # type: ignore[union-attr]
        store._call = real_call  # type: ignore[method-assign]
        assert migrate_dynamodb(store).skipped == []
        check_merged_counts = store.get(V2_ID)
        assert check_merged_counts is not None and check_merged_counts.count == 2 + 3 + 4 + 1


def test_operator_script_migrates_the_deployed_table(moto_url: str) -> None:
    import uuid

    from tests.support.deploy_moto import client, run_script

    table = f"errors-{uuid.uuid4().hex[:8]}"
    create_table(table, client=client(moto_url, "dynamodb"))
    store = DynamoDBErrorStore(table, client=client(moto_url, "dynamodb"))
    seed_v1(store)
    result = run_script("migrate-fingerprints", moto_url, "--table", table)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["migrated"] == 4
    check_merged(store)


def test_sqlite_migration_moves_the_captured_inputs_to_the_merged_id(tmp_path: Path) -> None:
    """The failing inputs captured under the old ids follow their records (a digest kept once)."""
    from selfheal.domain.capture import make_input

    store = SqliteErrorStore(tmp_path / "errors.db")
    seed_v1(store)
    shared = make_input({"count": 0}, "runtime")
    store.add_inputs("a" * 32, [shared, make_input({"count": 0, "n": 1}, "runtime")], keep=3)
    store.add_inputs("b" * 32, [shared], keep=3)
    migrate_sqlite(store, force=True)
    moved = store.inputs(V2_ID)
    assert sorted(i.value().get("n", 0) for i in moved) == [0, 1]
    assert store.inputs("a" * 32) == [] and store.inputs("b" * 32) == []
