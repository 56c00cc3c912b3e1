"""Apply a fingerprint migration (``selfheal.domain.fingerprint_migration``) to a store.

SQLite: ``migrate_sqlite`` runs in one ``BEGIN IMMEDIATE`` transaction: merged records are
written under their new id with all their attempts and steps, usage rows follow their attempt,
the old rows go and each old id becomes a row of ``aliases(old, new)`` that ``get`` follows.
``PRAGMA user_version`` records that the file is current, so opening a store migrates it once.

DynamoDB: ``migrate_dynamodb`` scans the table once; each merge is one ``TransactWriteItems``:
the merged item (conditional on the new id's item being unchanged since the scan, or absent) and,
for every old id, an alias item ``{fingerprint: old, alias_of: new}`` replacing the old record
(conditional on its ``updated_at`` and captured-input count being unchanged). An alias item has
no ``status``, so it is in no index, no ``list`` and no fix request; ``get`` follows it. A merge
that lost a race is left for the next run and reported.

The merged item's stream record (an INSERT, or a MODIFY of an existing v2 item) must not start a
second fix of an error that is already known: the Put marks the item (``migrated_at``,
``migrated_from``: the merged records' status and count) and ``migration_write`` lets the
dispatch handler recognise exactly that write. A fix request already sent under an old id is
started on the merged record (``FixStarter`` follows the alias), so the merged error is fixed
exactly once; only a merge that itself brings the error to ``min_occurrences`` queues one.

Captured failing inputs (``InputStore``) of the merged records follow on both adapters,
``merged_inputs``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from selfheal.adapters.store_common import ts
from selfheal.domain.capture import DEFAULT_KEEP, CapturedInput, merge_inputs
from selfheal.domain.fingerprint import VERSION
from selfheal.domain.fingerprint_migration import Merge, MergedRecord, MigrationReport, plan
from selfheal.domain.records import ErrorRecord, Status, utcnow

if TYPE_CHECKING:
    from selfheal.adapters.dynamodb_store import DynamoDBErrorStore
    from selfheal.adapters.sqlite_store import SqliteErrorStore
    from selfheal.domain.fingerprint import FingerprintConfig

SQLITE_SCHEMA_VERSION = int(VERSION.lstrip("v"))  # PRAGMA user_version once the ids are current
ALIAS_ATTRIBUTE = "alias_of"
# On a merged item, set by the migration's own Put only (later writes keep them unchanged): when
# it was written, and the records it merged with their status and count before the merge.
MIGRATED_AT_ATTRIBUTE = "migrated_at"
MIGRATED_FROM_ATTRIBUTE = "migrated_from"
ALIASES_SCHEMA = "CREATE TABLE IF NOT EXISTS aliases (old TEXT PRIMARY KEY, new TEXT NOT NULL)"
_MAX_TRANSACTION_ITEMS = 100  # DynamoDB's TransactWriteItems limit


# ------------------------------------------------------------------------------------ SQLite


def sqlite_alias(conn: sqlite3.Connection, fingerprint: str) -> str | None:
    """The current id of a migrated old id, or None."""
    row = conn.execute("SELECT new FROM aliases WHERE old=?", (fingerprint,)).fetchone()
    return None if row is None else str(row[0])


def migrate_sqlite(store: SqliteErrorStore, config: FingerprintConfig | None = None, *,
                   force: bool = False, keep_inputs: int = DEFAULT_KEEP) -> MigrationReport:
    """Re-key the store's records to the current fingerprint version (see module docstring);
    a no-op when the file is already marked current (unless ``force``)."""
    report = MigrationReport()
    (version,) = store._conn().execute("PRAGMA user_version").fetchone()
    if version >= SQLITE_SCHEMA_VERSION and not force:
        return report  # current: no write lock taken (a read-only store still opens)
    with store._tx() as conn:
        conn.execute(ALIASES_SCHEMA)
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version >= SQLITE_SCHEMA_VERSION and not force:
            return report
        rows = conn.execute("SELECT fingerprint, status, count, first_seen, last_seen, updated_at, data "
                            "FROM errors").fetchall()
        records = [store._row_to_record(conn, row) for row in rows]
        for m in plan(records, config, report):
            _apply_sqlite(store, conn, m, keep_inputs)
        conn.execute(f"PRAGMA user_version = {SQLITE_SCHEMA_VERSION}")
    return report


def _oldest_first(m: Merge) -> list[ErrorRecord]:
    return sorted(m.records, key=lambda r: r.first_seen)


def merged_inputs(captured: Sequence[Sequence[CapturedInput]],
                  keep: int = DEFAULT_KEEP) -> list[CapturedInput]:
    """The failing inputs of records merged into one (each record's list, oldest record first):
    distinct by digest, replayable before truncated, at most ``keep`` (ingest's bound,
    ``settings.capture_keep``) or as many as one record already kept under a larger setting."""
    bound = max([keep, *(len(found) for found in captured)])
    return merge_inputs([], [item for found in captured for item in found], bound)


def _apply_sqlite(store: SqliteErrorStore, conn: sqlite3.Connection, m: Merge, keep_inputs: int) -> None:
    for rec in m.records:
        for att in rec.attempts:
            conn.execute("UPDATE usage SET fingerprint=?, attempt=? WHERE fingerprint=? AND attempt=?",
                         (m.new_id, m.attempt_numbers[(rec.fingerprint, att.number)], rec.fingerprint,
                          att.number))
        for table in ("errors", "attempts", "steps"):
            conn.execute(f"DELETE FROM {table} WHERE fingerprint=?", (rec.fingerprint,))  # noqa: S608
    # Captured failing inputs follow, merged: distinct, replayable first, bounded (see merged_inputs).
    captured = [[CapturedInput.model_validate_json(d) for (d,) in conn.execute(
        "SELECT data FROM inputs WHERE fingerprint=? ORDER BY position", (rec.fingerprint,))]
        for rec in _oldest_first(m)]
    for rec in m.records:
        conn.execute("DELETE FROM inputs WHERE fingerprint=?", (rec.fingerprint,))
    for position, item in enumerate(merged_inputs(captured, keep_inputs)):
        conn.execute("INSERT INTO inputs VALUES (?, ?, ?, ?)",
                     (m.new_id, item.digest, position, item.model_dump_json()))
    store._write(conn, m.merged)
    for att in m.merged.attempts:
        conn.execute("INSERT INTO attempts (fingerprint, number, started_at, data) VALUES (?, ?, ?, ?)",
                     (m.new_id, att.number, ts(att.started_at),
                      att.model_dump_json(exclude={"number", "steps"})))
        for step in att.steps:
            conn.execute("INSERT OR REPLACE INTO steps (fingerprint, attempt, state, started_at, data) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (m.new_id, att.number, step.state, ts(step.started_at), step.model_dump_json()))
    for old in m.old_ids:
        conn.execute("UPDATE aliases SET new=? WHERE new=?", (m.new_id, old))  # older aliases follow
        conn.execute("INSERT OR REPLACE INTO aliases (old, new) VALUES (?, ?)", (old, m.new_id))


# ---------------------------------------------------------------------------------- DynamoDB


def _record_item(rec: ErrorRecord) -> dict[str, Any]:
    from selfheal.adapters.dynamodb_codec import to_av

    # Python values (datetimes stay datetimes): ``to_av`` writes them as the store's other writes do.
    doc: dict[str, Any] = rec.model_dump(exclude={"attempts"})
    attempts = {}
    for att in rec.attempts:
        adoc = att.model_dump(exclude={"steps"})
        adoc["steps"] = {f"{s.state}|{ts(s.started_at)}": s.model_dump() for s in att.steps}
        attempts[str(att.number)] = adoc
    doc["attempts"] = attempts
    doc["attempt_count"] = len(rec.attempts)
    return {k: to_av(v) for k, v in doc.items()}


def _unchanged(stamp: dict[str, Any], inputs: int) -> dict[str, Any]:
    """A condition: the item's ``updated_at`` is still ``stamp`` and it still holds ``inputs``
    captured inputs (as scanned: an input added since would be lost by the Put)."""
    from selfheal.adapters.dynamodb_inputs import INPUTS_ATTRIBUTE

    held = "size(#i) = :n" if inputs else "attribute_not_exists(#i)"
    values = {":u": stamp, **({":n": {"N": str(inputs)}} if inputs else {})}
    return {"ConditionExpression": f"#u = :u AND {held}",
            "ExpressionAttributeNames": {"#u": "updated_at", "#i": INPUTS_ATTRIBUTE},
            "ExpressionAttributeValues": values}


def migration_write(old_image: dict[str, Any] | None, new_image: dict[str, Any] | None
                    ) -> list[MergedRecord] | None:
    """For a stream record of the error table: the records a migration merged, when this change
    is a migration's own write of the merged item (its ``migrated_at`` is new); else None (an
    ordinary write, a later one to a migrated item included)."""
    stamp = (new_image or {}).get(MIGRATED_AT_ATTRIBUTE)
    if stamp is None or stamp == (old_image or {}).get(MIGRATED_AT_ATTRIBUTE):
        return None
    raw = json.loads((new_image or {}).get(MIGRATED_FROM_ATTRIBUTE, {}).get("S") or "[]")
    return [MergedRecord(str(r["id"]), Status(r["status"]), int(r["count"])) for r in raw]


class _Skipped(Exception):
    """A merge this run does not apply."""


def migrate_dynamodb(store: DynamoDBErrorStore, config: FingerprintConfig | None = None, *,
                     keep_inputs: int = DEFAULT_KEEP) -> MigrationReport:
    """Re-key the table's records to the current fingerprint version (see module docstring)."""
    from selfheal.adapters.dynamodb_codec import record_from_image
    from selfheal.adapters.dynamodb_inputs import decode_inputs, input_attributes

    report = MigrationReport()
    records: list[ErrorRecord] = []
    stamps: dict[str, dict[str, Any]] = {}  # fingerprint -> updated_at as stored
    captured: dict[str, list[CapturedInput]] = {}  # fingerprint -> its inputs as stored
    kwargs: dict[str, Any] = {"TableName": store.table_name}
    while True:
        out = store._call("scan", **kwargs)
        for item in out.get("Items", []):
            rec = record_from_image(item)
            if rec is not None:
                records.append(rec)
                stamps[rec.fingerprint] = item["updated_at"]
                captured[rec.fingerprint] = decode_inputs(item)
        if "LastEvaluatedKey" not in out:
            break
        kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]
    for m in plan(records, config, report):
        existing = next((r for r in m.records if r.fingerprint == m.new_id), None)
        inputs = merged_inputs([captured[r.fingerprint] for r in _oldest_first(m)], keep_inputs)
        marks = {MIGRATED_AT_ATTRIBUTE: {"S": ts(utcnow())}, MIGRATED_FROM_ATTRIBUTE: {"S": json.dumps(
            [{"id": r.id, "status": r.status.value, "count": r.count} for r in m.merged_from])}}
        target: dict[str, Any] = {"TableName": store.table_name,
                                  "Item": {**_record_item(m.merged), **input_attributes(inputs), **marks}}
        if existing is None:
            target.update(ConditionExpression="attribute_not_exists(#fp)",
                          ExpressionAttributeNames={"#fp": "fingerprint"})
        else:
            target.update(_unchanged(stamps[existing.fingerprint], len(captured[existing.fingerprint])))
        items = [{"Put": target}]
        for rec in m.records:
            if rec.fingerprint == m.new_id:
                continue
            alias = {"fingerprint": {"S": rec.fingerprint}, ALIAS_ATTRIBUTE: {"S": m.new_id}}
            items.append({"Put": {"TableName": store.table_name, "Item": alias,
                                  **_unchanged(stamps[rec.fingerprint], len(captured[rec.fingerprint]))}})
        why = "changed during the migration; migrated on a later run"
        try:
            if len(items) > _MAX_TRANSACTION_ITEMS:
                why = f"more than {_MAX_TRANSACTION_ITEMS - 1} records merge into {m.new_id}; not migrated"
                raise _Skipped
            store._call("transact_write_items", TransactItems=items)
        except Exception as exc:
            if not isinstance(exc, _Skipped) and store._code(exc) != "TransactionCanceledException":
                raise
            report.skipped.extend(f"{old}: {why}" for old in m.old_ids)
            report.migrated -= len(m.old_ids)
            report.merged -= len(m.records) - 1
            for old in m.old_ids:
                report.aliases.pop(old, None)
    return report
