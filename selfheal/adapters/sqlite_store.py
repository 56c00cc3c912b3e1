"""``ErrorStore`` on one SQLite file: the local embedded default (``<home>/errors.db``).

Schema (created on first use)::

    errors(fingerprint PK, status, count, first_seen, last_seen, updated_at, data JSON)
    attempts(fingerprint, number, started_at, data JSON)        PK (fingerprint, number)
    steps(fingerprint, attempt, state, started_at, data JSON)   PK (fingerprint, attempt, state, started_at)
    usage(at, fingerprint, attempt, tokens_in, tokens_out, cost_usd)
    inputs(fingerprint, digest, position, data JSON)           PK (fingerprint, digest)
    aliases(old PK, new)     ids from before a fingerprint migration (``store_migration``)

Every write runs in one ``BEGIN IMMEDIATE`` transaction, so a read-check-write (a status
transition, an attempt number) cannot interleave with another writer, in this process or
another one. Timestamps are stored as fixed-width UTC ISO strings, so text order is time order.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from selfheal.adapters.store_common import (
    allowed_sources,
    attempt_fields,
    refused,
    scrub,
    scrub_step,
    transition_fields,
    ts,
)
from selfheal.domain.capture import DEFAULT_KEEP, CapturedInput, merge_inputs
from selfheal.domain.records import (
    Attempt,
    ErrorRecord,
    Observation,
    Status,
    StepRecord,
    check_running,
    utcnow,
)
from selfheal.errors import ErrorNotFound, StoreUnavailable
from selfheal.ports import ObserveResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS errors (
    fingerprint TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS errors_status_last_seen ON errors (status, last_seen);
CREATE TABLE IF NOT EXISTS attempts (
    fingerprint TEXT NOT NULL,
    number INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (fingerprint, number)
);
CREATE INDEX IF NOT EXISTS attempts_started_at ON attempts (started_at);
CREATE TABLE IF NOT EXISTS steps (
    fingerprint TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    state TEXT NOT NULL,
    started_at TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (fingerprint, attempt, state, started_at)
);
CREATE TABLE IF NOT EXISTS usage (
    at TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    tokens_in INTEGER NOT NULL,
    tokens_out INTEGER NOT NULL,
    cost_usd REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_at ON usage (at);
CREATE TABLE IF NOT EXISTS inputs (
    fingerprint TEXT NOT NULL,
    digest TEXT NOT NULL,
    position INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (fingerprint, digest)
);
"""

# Columns of ErrorRecord kept in their own SQL columns; everything else lives in ``data``.
_COLUMNS = ("fingerprint", "status", "count", "first_seen", "last_seen", "updated_at")


class SqliteErrorStore:
    """Error records in a SQLite file; safe for threads and processes sharing the file."""

    def __init__(self, path: Path | str, *, timeout: float = 30.0, keep_inputs: int = DEFAULT_KEEP) -> None:
        """Open (create) the file; records of an older fingerprint version are migrated once,
        merged records keeping up to ``keep_inputs`` captured inputs (``settings.capture_keep``)."""
        self.path = Path(path)
        self.timeout = timeout
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn().executescript(_SCHEMA)
        from selfheal.adapters.store_migration import migrate_sqlite

        migrate_sqlite(self, keep_inputs=keep_inputs)  # once per file: re-keys older-version records

    # --- connection handling ---------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # "database is locked" after the busy timeout
            raise StoreUnavailable(f"sqlite store {self.path} is busy: {exc}") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- records ----------------------------------------------------------------------------

    @staticmethod
    def _row_to_record(conn: sqlite3.Connection, row: tuple[Any, ...]) -> ErrorRecord:
        fp, status, count, first_seen, last_seen, updated_at, data = row
        doc = json.loads(data)
        doc.update(fingerprint=fp, status=status, count=count, first_seen=first_seen,
                   last_seen=last_seen, updated_at=updated_at)
        attempts = []
        for (number, adata) in conn.execute(
                "SELECT number, data FROM attempts WHERE fingerprint=? ORDER BY number", (fp,)):
            att = json.loads(adata)
            att["number"] = number
            att["steps"] = [json.loads(s) for (s,) in conn.execute(
                "SELECT data FROM steps WHERE fingerprint=? AND attempt=? ORDER BY started_at, state",
                (fp, number))]
            attempts.append(att)
        doc["attempts"] = attempts
        return ErrorRecord.model_validate(doc)

    def _fetch(self, conn: sqlite3.Connection, fingerprint: str) -> ErrorRecord | None:
        row = conn.execute(f"SELECT {', '.join(_COLUMNS)}, data FROM errors WHERE fingerprint=?",
                           (fingerprint,)).fetchone()
        return None if row is None else self._row_to_record(conn, row)

    @staticmethod
    def _write(conn: sqlite3.Connection, rec: ErrorRecord) -> None:
        doc = rec.model_dump(mode="json", exclude={*_COLUMNS, "attempts"})
        conn.execute(
            "INSERT OR REPLACE INTO errors (fingerprint, status, count, first_seen, last_seen, "
            "updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rec.fingerprint, rec.status.value, rec.count, ts(rec.first_seen), ts(rec.last_seen),
             ts(rec.updated_at), json.dumps(doc)))

    def observe(self, obs: Observation) -> ObserveResult:
        """Create the record (status NEW) or add ``obs.count`` to it, in one transaction."""
        now = utcnow()
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE errors SET count = count + ?, last_seen = max(last_seen, ?), updated_at = ? "
                "WHERE fingerprint = ? RETURNING status",
                (obs.count, ts(obs.seen_at), ts(now), obs.fingerprint))
            row = cur.fetchone()
            if row is not None:
                rec = self._fetch(conn, obs.fingerprint)
                assert rec is not None
                return ObserveResult(record=rec, created=False, previous_status=Status(row[0]))
            rec = ErrorRecord(
                fingerprint=obs.fingerprint, fingerprint_version=obs.fingerprint_version,
                full_hash=obs.full_hash, status=Status.NEW, count=obs.count,
                first_seen=obs.seen_at, last_seen=obs.seen_at, exc_type=obs.exc_type,
                message=obs.message, frames=obs.frames, sample_trace=obs.sample_trace,
                source=obs.source, updated_at=now)
            self._write(conn, rec)
            return ObserveResult(record=rec, created=True, previous_status=None)

    def get(self, fingerprint: str) -> ErrorRecord | None:
        conn = self._conn()
        conn.execute("BEGIN")  # one snapshot across the record, attempt and step reads
        try:
            rec = self._fetch(conn, fingerprint)
            if rec is None:  # an id from before a fingerprint migration names its merged record
                from selfheal.adapters.store_migration import sqlite_alias

                current = sqlite_alias(conn, fingerprint)
                rec = None if current is None else self._fetch(conn, current)
            return rec
        finally:
            conn.execute("COMMIT")

    def list(self, status: Status | None = None, limit: int = 1000) -> list[ErrorRecord]:
        """Records, most recently seen first (optionally of one status)."""
        conn = self._conn()
        cols = ", ".join(_COLUMNS)
        conn.execute("BEGIN")
        try:
            if status is None:
                rows = conn.execute(f"SELECT {cols}, data FROM errors ORDER BY last_seen DESC LIMIT ?",
                                    (limit,)).fetchall()
            else:
                rows = conn.execute(
                    f"SELECT {cols}, data FROM errors WHERE status=? ORDER BY last_seen DESC LIMIT ?",
                    (Status(status).value, limit)).fetchall()
            return [self._row_to_record(conn, row) for row in rows]
        finally:
            conn.execute("COMMIT")

    def find(self, prefix: str) -> builtins.list[str]:
        """Fingerprints starting with ``prefix`` (at most 10), for prefix lookups in the CLI."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._conn().execute(
            "SELECT fingerprint FROM errors WHERE fingerprint LIKE ?1 ESCAPE '\\' UNION "
            "SELECT new FROM aliases WHERE old LIKE ?1 ESCAPE '\\' ORDER BY 1 LIMIT 10",
            (escaped + "%",)).fetchall()
        return [r[0] for r in rows]

    def transition(self, fingerprint: str, to: Status, *, expected: Sequence[Status] | None = None,
                   reason: str | None = None, fields: dict[str, Any] | None = None) -> ErrorRecord:
        """Conditional status change (see ``ErrorStore.transition``)."""
        to = Status(to)
        allowed = allowed_sources(to, expected)
        extra = transition_fields(fields)
        reason = scrub(reason)
        with self._tx() as conn:
            rec = self._fetch(conn, fingerprint)
            if rec is None:
                raise ErrorNotFound(f"no error {fingerprint}")
            if rec.status not in allowed:
                raise refused(fingerprint, rec.status, to, expected, allowed)
            rec = rec.model_copy(update={"status": to, "status_reason": reason,
                                         "updated_at": utcnow(), **extra})
            self._write(conn, rec)
            return rec

    # --- attempts -----------------------------------------------------------------------------

    def start_attempt(self, fingerprint: str, execution: str | None) -> Attempt:
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM errors WHERE fingerprint=?", (fingerprint,)).fetchone() is None:
                raise ErrorNotFound(f"no error {fingerprint}")
            (last,) = conn.execute("SELECT coalesce(max(number), 0) FROM attempts WHERE fingerprint=?",
                                   (fingerprint,)).fetchone()
            att = Attempt(number=last + 1, execution=execution)
            conn.execute("INSERT INTO attempts (fingerprint, number, started_at, data) VALUES (?, ?, ?, ?)",
                         (fingerprint, att.number, ts(att.started_at),
                          att.model_dump_json(exclude={"number", "steps"})))
            conn.execute("UPDATE errors SET updated_at=? WHERE fingerprint=?", (ts(utcnow()), fingerprint))
            return att

    def _attempt_doc(self, conn: sqlite3.Connection, fingerprint: str, attempt: int) -> dict[str, Any]:
        row = conn.execute("SELECT data FROM attempts WHERE fingerprint=? AND number=?",
                           (fingerprint, attempt)).fetchone()
        if row is None:
            raise ErrorNotFound(f"no attempt {attempt} of error {fingerprint}")
        doc: dict[str, Any] = json.loads(row[0])
        return doc

    def record_step(self, fingerprint: str, attempt: int, step: StepRecord, *,
                    only_running: bool = False) -> None:
        step = scrub_step(step)
        with self._tx() as conn:
            doc = self._attempt_doc(conn, fingerprint, attempt)
            if only_running:
                check_running(fingerprint, attempt, doc.get("outcome", "running"))
            conn.execute("INSERT OR REPLACE INTO steps (fingerprint, attempt, state, started_at, data) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (fingerprint, attempt, step.state, ts(step.started_at), step.model_dump_json()))

    def finish_attempt(self, fingerprint: str, attempt: int, *, only_running: bool = False,
                       **fields: Any) -> None:
        """Set outcome / failed_state / error / cause / reasons / finished_at (and execution);
        with ``only_running`` only on a running attempt (``AttemptFinished`` otherwise)."""
        fields = attempt_fields(fields)
        with self._tx() as conn:
            doc = self._attempt_doc(conn, fingerprint, attempt)
            if only_running:
                check_running(fingerprint, attempt, doc.get("outcome", "running"))
            doc.update(fields)
            att = Attempt.model_validate({**doc, "number": attempt})  # validates the values
            conn.execute("UPDATE attempts SET data=? WHERE fingerprint=? AND number=?",
                         (att.model_dump_json(exclude={"number", "steps"}), fingerprint, attempt))

    def add_usage(self, fingerprint: str, attempt: int, tokens_in: int, tokens_out: int,
                  cost_usd: float) -> None:
        with self._tx() as conn:
            doc = self._attempt_doc(conn, fingerprint, attempt)
            doc["tokens_in"] = doc.get("tokens_in", 0) + tokens_in
            doc["tokens_out"] = doc.get("tokens_out", 0) + tokens_out
            doc["cost_usd"] = doc.get("cost_usd", 0.0) + cost_usd
            conn.execute("UPDATE attempts SET data=? WHERE fingerprint=? AND number=?",
                         (json.dumps(doc), fingerprint, attempt))
            rec = self._fetch(conn, fingerprint)
            assert rec is not None
            self._write(conn, rec.model_copy(update={
                "tokens_in": rec.tokens_in + tokens_in, "tokens_out": rec.tokens_out + tokens_out,
                "cost_usd": rec.cost_usd + cost_usd}))
            conn.execute("INSERT INTO usage (at, fingerprint, attempt, tokens_in, tokens_out, cost_usd) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         (ts(utcnow()), fingerprint, attempt, tokens_in, tokens_out, cost_usd))

    def usage_since(self, since: datetime) -> float:
        (total,) = self._conn().execute("SELECT coalesce(sum(cost_usd), 0) FROM usage WHERE at >= ?",
                                        (ts(since),)).fetchone()
        return float(total)

    def count_attempts_since(self, since: datetime) -> int:
        (n,) = self._conn().execute("SELECT count(*) FROM attempts WHERE started_at >= ?",
                                    (ts(since),)).fetchone()
        return int(n)

    # --- captured failing inputs (InputStore) -----------------------------------------------

    def add_inputs(self, fingerprint: str, inputs: Sequence[CapturedInput], keep: int) -> int:
        with self._tx() as conn:
            kept = [CapturedInput.model_validate_json(d) for (d,) in conn.execute(
                "SELECT data FROM inputs WHERE fingerprint=? ORDER BY position", (fingerprint,))]
            merged = merge_inputs(kept, inputs, keep)
            for position, item in enumerate(merged[len(kept):], start=len(kept)):
                conn.execute("INSERT OR IGNORE INTO inputs VALUES (?, ?, ?, ?)",
                             (fingerprint, item.digest, position, item.model_dump_json()))
            return len(merged)

    def inputs(self, fingerprint: str) -> builtins.list[CapturedInput]:
        rows = self._conn().execute(
            "SELECT data FROM inputs WHERE fingerprint=? ORDER BY position", (fingerprint,)).fetchall()
        return [CapturedInput.model_validate_json(d) for (d,) in rows]
