"""``ErrorStore`` on one DynamoDB table (the production store).

Table schema, item layout and the codecs live in ``dynamodb_codec`` (re-exported here, so
``TABLE_SCHEMA``, ``create_table`` and ``record_from_image`` keep importing from this module).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from selfheal.adapters import dynamodb_inputs
from selfheal.adapters.dynamodb_codec import (
    META_PREFIX,
    STATUS_INDEX,
    TABLE_SCHEMA,
    _bucket,
    _default_client,
    _Expr,
    _plain,
    _unplain,
    create_table,
    from_item,
    record_from_image,
    to_av,
)
from selfheal.adapters.store_common import (
    allowed_sources,
    attempt_fields,
    refused,
    scrub,
    scrub_step,
    transition_fields,
    ts,
)
from selfheal.domain.capture import CapturedInput
from selfheal.domain.records import (
    Attempt,
    ErrorRecord,
    Observation,
    Status,
    StepRecord,
    check_running,
    utcnow,
)
from selfheal.errors import ConcurrentUpdate, ErrorNotFound, StoreUnavailable
from selfheal.ports import ObserveResult

__all__ = ["META_PREFIX", "STATUS_INDEX", "TABLE_SCHEMA", "DynamoDBErrorStore", "_Expr", "_bucket",
           "_default_client", "_plain", "_unplain", "create_table", "from_item", "record_from_image",
           "to_av", "ts"]

_THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
              "InternalServerError", "ServiceUnavailable"}


class DynamoDBErrorStore:
    """Error records in a DynamoDB table (schema and item layout: ``dynamodb_codec``)."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _default_client()
        return self._client

    def _call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            out: dict[str, Any] = getattr(self.client, op)(**kwargs)
            return out
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _THROTTLED:
                raise StoreUnavailable(f"DynamoDB {op} on {self.table_name}: {exc}") from exc
            raise

    @staticmethod
    def _code(exc: Exception) -> str:
        return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))

    def _key(self, fingerprint: str) -> dict[str, Any]:
        return {"fingerprint": {"S": fingerprint}}

    # --- records ----------------------------------------------------------------------------

    def observe(self, obs: Observation) -> ObserveResult:
        """Count onto the record with one small ``UpdateItem`` (``ADD count``, conditional on the
        record existing); only for a new error, create it with a conditional ``PutItem``. If two
        writers create at once, one put wins and the other counts onto it."""
        now = utcnow()
        while True:
            e = _Expr()
            expr = (f"SET {e.name('last_seen')} = {e.value(obs.seen_at)}, {e.name('updated_at')} = "
                    f"{e.value(now)} ADD {e.name('count')} {e.value(obs.count)}")
            cond = f"attribute_exists({e.name('status')})"
            try:
                out = self._call("update_item", TableName=self.table_name, Key=self._key(obs.fingerprint),
                                 UpdateExpression=expr, ConditionExpression=cond, ReturnValues="ALL_OLD",
                                 **e.kwargs())
            except Exception as exc:
                if self._code(exc) != "ConditionalCheckFailedException":
                    raise
            else:
                old = record_from_image(out.get("Attributes"))
                assert old is not None
                rec = old.model_copy(update={"count": old.count + obs.count, "last_seen": obs.seen_at,
                                             "updated_at": now})
                return ObserveResult(record=rec, created=False, previous_status=old.status)
            new = ErrorRecord(
                fingerprint=obs.fingerprint, fingerprint_version=obs.fingerprint_version,
                full_hash=obs.full_hash, status=Status.NEW, count=obs.count, first_seen=obs.seen_at,
                last_seen=obs.seen_at, exc_type=obs.exc_type, message=obs.message, frames=obs.frames,
                sample_trace=obs.sample_trace, source=obs.source, updated_at=now)
            doc = {**new.model_dump(mode="json"), "attempts": {}, "attempt_count": 0}
            try:
                self._call("put_item", TableName=self.table_name,
                           Item={k: to_av(v) for k, v in doc.items()},
                           ConditionExpression="attribute_not_exists(#fp)",
                           ExpressionAttributeNames={"#fp": "fingerprint"})
                return ObserveResult(record=new, created=True, previous_status=None)
            except Exception as exc:
                if self._code(exc) != "ConditionalCheckFailedException":
                    raise
                # another writer created it between our two requests: count onto theirs

    def get(self, fingerprint: str) -> ErrorRecord | None:
        if fingerprint.startswith(META_PREFIX):
            return None
        out = self._call("get_item", TableName=self.table_name, Key=self._key(fingerprint),
                         ConsistentRead=True)
        item = out.get("Item") or {}
        from selfheal.adapters.store_migration import ALIAS_ATTRIBUTE

        if ALIAS_ATTRIBUTE in item:  # an id from before a fingerprint migration names its merged record
            out = self._call("get_item", TableName=self.table_name,
                             Key=self._key(item[ALIAS_ATTRIBUTE]["S"]), ConsistentRead=True)
        return record_from_image(out.get("Item"))

    def _batch_get(self, fingerprints: Sequence[str]) -> builtins.list[ErrorRecord]:
        return [r for r in map(record_from_image, self._get_raw(fingerprints)) if r is not None]

    def list(self, status: Status | None = None, limit: int = 1000) -> builtins.list[ErrorRecord]:
        """Records, most recently seen first (optionally of one status)."""
        if status is None:
            e = _Expr()
            kwargs: dict[str, Any] = {"TableName": self.table_name,
                                      "FilterExpression": f"attribute_exists({e.name('status')})",
                                      **e.kwargs()}
            records: builtins.list[ErrorRecord] = []
            while True:
                out = self._call("scan", **kwargs)
                records += [r for r in map(record_from_image, out.get("Items", [])) if r is not None]
                if "LastEvaluatedKey" not in out:
                    break
                kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]
        else:
            e = _Expr()
            kwargs = {"TableName": self.table_name, "IndexName": STATUS_INDEX, "ScanIndexForward": False,
                      "KeyConditionExpression": f"{e.name('status')} = {e.value(Status(status).value)}",
                      **e.kwargs()}
            keys: builtins.list[str] = []
            while len(keys) < limit:
                out = self._call("query", **kwargs)
                keys += [item["fingerprint"]["S"] for item in out.get("Items", [])]
                if "LastEvaluatedKey" not in out:
                    break
                kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]
            records = [r for r in self._batch_get(keys[:limit]) if r.status == status]
        records.sort(key=lambda r: r.last_seen, reverse=True)
        return records[:limit]

    def find(self, prefix: str) -> builtins.list[str]:
        """Fingerprints starting with ``prefix`` (at most 10), for prefix lookups in the CLI. An
        id from before a fingerprint migration (an alias item) matches as its merged record's id,
        as ``get`` follows it, so old ids and their prefixes keep resolving (same as SQLite)."""
        from selfheal.adapters.store_migration import ALIAS_ATTRIBUTE

        e = _Expr()
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "ProjectionExpression": f"{e.name('fingerprint')}, {e.name(ALIAS_ATTRIBUTE)}",
            "FilterExpression": f"begins_with({e.name('fingerprint')}, {e.value(prefix)}) "
                                f"AND (attribute_exists({e.name('status')}) "
                                f"OR attribute_exists({e.name(ALIAS_ATTRIBUTE)}))", **e.kwargs()}
        found: set[str] = set()
        while True:
            out = self._call("scan", **kwargs)
            for item in out.get("Items", []):
                found.add((item.get(ALIAS_ATTRIBUTE) or item["fingerprint"])["S"])
            if "LastEvaluatedKey" not in out or len(found) >= 10:
                return sorted(found)[:10]
            kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]

    def transition(self, fingerprint: str, to: Status, *, expected: Sequence[Status] | None = None,
                   reason: str | None = None, fields: dict[str, Any] | None = None) -> ErrorRecord:
        """Conditional status change: one ``UpdateItem`` with ``status IN (allowed sources)``."""
        to = Status(to)
        allowed = allowed_sources(to, expected)
        extra = transition_fields(fields)
        reason = scrub(reason)
        if allowed:
            e = _Expr()
            sets = {"status": to.value, "status_reason": reason, "updated_at": utcnow(), **extra}
            expr = "SET " + ", ".join(f"{e.name(k)} = {e.value(v)}" for k, v in sets.items())
            cond = f"{e.name('status')} IN ({', '.join(e.value(s.value) for s in sorted(allowed))})"
            try:
                out = self._call("update_item", TableName=self.table_name, Key=self._key(fingerprint),
                                 UpdateExpression=expr, ConditionExpression=cond, ReturnValues="ALL_NEW",
                                 **e.kwargs())
                rec = record_from_image(out["Attributes"])
                assert rec is not None
                return rec
            except Exception as exc:
                if self._code(exc) != "ConditionalCheckFailedException":
                    raise
        current = self.get(fingerprint)
        if current is None:
            raise ErrorNotFound(f"no error {fingerprint}")
        raise refused(fingerprint, current.status, to, expected, allowed)

    # --- attempts -----------------------------------------------------------------------------

    def start_attempt(self, fingerprint: str, execution: str | None) -> Attempt:
        """Append attempt ``attempt_count + 1`` and count it in the hourly bucket, in one
        transaction conditional on ``attempt_count`` (retried when another writer won)."""
        for _ in range(20):
            out = self._call("get_item", TableName=self.table_name, Key=self._key(fingerprint),
                             ConsistentRead=True, ProjectionExpression="attempt_count, #s",
                             ExpressionAttributeNames={"#s": "status"})
            item = out.get("Item")
            if not item or "status" not in item:
                raise ErrorNotFound(f"no error {fingerprint}")
            prev = int(item.get("attempt_count", {}).get("N", "0"))
            att = Attempt(number=prev + 1, execution=execution)
            e = _Expr()
            doc = {**att.model_dump(mode="json"), "steps": {}}  # a map: one nested SET per step
            expr = (f"SET {e.name('attempts')}.{e.name(str(att.number))} = {e.value(doc)}, "
                    f"{e.name('attempt_count')} = {e.value(att.number)}, "
                    f"{e.name('updated_at')} = {e.value(utcnow())}")
            if prev == 0:
                cond = (f"attribute_not_exists({e.name('attempt_count')}) OR "
                        f"{e.name('attempt_count')} = {e.value(0)}")
            else:
                cond = f"{e.name('attempt_count')} = {e.value(prev)}"
            bucket_key, minute = _bucket("attempts", att.started_at)
            try:
                self._call("transact_write_items", TransactItems=[
                    {"Update": {"TableName": self.table_name, "Key": self._key(fingerprint),
                                "UpdateExpression": expr, "ConditionExpression": cond, **e.kwargs()}},
                    {"Update": {"TableName": self.table_name, "Key": self._key(bucket_key),
                                "UpdateExpression": "ADD #m :one",
                                "ExpressionAttributeNames": {"#m": minute},
                                "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                ])
                return att
            except Exception as exc:
                if self._code(exc) != "TransactionCanceledException":
                    raise
        raise ConcurrentUpdate(f"could not append an attempt to {fingerprint}: too much contention")

    def _update_attempt(self, fingerprint: str, attempt: int, e: _Expr, expr: str, guard: str = "") -> None:
        cond = f"attribute_exists({e.name('attempts')}.{e.name(str(attempt))}){guard}"
        try:
            self._call("update_item", TableName=self.table_name, Key=self._key(fingerprint),
                       UpdateExpression=expr, ConditionExpression=cond, **e.kwargs())
        except Exception as exc:
            if self._code(exc) != "ConditionalCheckFailedException":
                raise
            rec = self.get(fingerprint) if guard else None
            att = next((a for a in rec.attempts if a.number == attempt), None) if rec else None
            if att is not None:  # it exists: the guard refused it
                check_running(fingerprint, attempt, att.outcome)
            raise ErrorNotFound(f"no attempt {attempt} of error {fingerprint}") from exc

    def record_step(self, fingerprint: str, attempt: int, step: StepRecord, *,
                    only_running: bool = False) -> None:
        """One nested ``SET`` of ``attempts.<n>.steps.<state>|<started_at>`` (texts scrubbed);
        with ``only_running`` also conditional on ``attempts.<n>.outcome = running``."""
        step = scrub_step(step)
        e = _Expr()
        base = f"{e.name('attempts')}.{e.name(str(attempt))}"
        key = e.name(f"{step.state}|{ts(step.started_at)}")
        guard = f" AND {base}.{e.name('outcome')} = {e.value('running')}" if only_running else ""
        self._update_attempt(fingerprint, attempt, e, f"SET {base}.{e.name('steps')}.{key} = {e.value(step)}",
                             guard)

    def finish_attempt(self, fingerprint: str, attempt: int, *, only_running: bool = False,
                       **fields: Any) -> None:
        """Set outcome / failed_state / error / cause / reasons / finished_at (and execution);
        with ``only_running`` also conditional on ``attempts.<n>.outcome = running``."""
        fields = attempt_fields(fields)
        if not fields:
            return
        checked = Attempt.model_validate({"number": attempt, **fields}).model_dump(mode="json")
        e = _Expr()
        base = f"{e.name('attempts')}.{e.name(str(attempt))}"
        expr = "SET " + ", ".join(f"{base}.{e.name(k)} = {e.value(checked[k])}" for k in fields)
        guard = f" AND {base}.{e.name('outcome')} = {e.value('running')}" if only_running else ""
        self._update_attempt(fingerprint, attempt, e, expr, guard)

    def add_usage(self, fingerprint: str, attempt: int, tokens_in: int, tokens_out: int,
                  cost_usd: float) -> None:
        """Attempt and record totals in one item update plus the hourly cost bucket, atomically."""
        e = _Expr()
        base = f"{e.name('attempts')}.{e.name(str(attempt))}"
        vals = {"tokens_in": e.value(tokens_in), "tokens_out": e.value(tokens_out),
                "cost_usd": e.value(cost_usd)}
        sets = ", ".join(f"{base}.{e.name(k)} = {base}.{e.name(k)} + {v}" for k, v in vals.items())
        adds = ", ".join(f"{e.name(k)} {v}" for k, v in vals.items())
        cond = f"attribute_exists({base})"
        bucket_key, minute = _bucket("usage", utcnow())
        try:
            self._call("transact_write_items", TransactItems=[
                {"Update": {"TableName": self.table_name, "Key": self._key(fingerprint),
                            "UpdateExpression": f"SET {sets} ADD {adds}", "ConditionExpression": cond,
                            **e.kwargs()}},
                {"Update": {"TableName": self.table_name, "Key": self._key(bucket_key),
                            "UpdateExpression": "ADD #m :c", "ExpressionAttributeNames": {"#m": minute},
                            "ExpressionAttributeValues": {":c": to_av(cost_usd)}}},
            ])
        except Exception as exc:
            if self._code(exc) == "TransactionCanceledException":
                raise ErrorNotFound(f"no attempt {attempt} of error {fingerprint}") from exc
            raise

    def _sum_buckets(self, kind: str, since: datetime) -> float:
        """Sum the per-minute counters from the minute of ``since`` (inclusive) to now."""
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        start = since.astimezone(UTC).replace(second=0, microsecond=0)
        hours: builtins.list[datetime] = []
        hour = start.replace(minute=0)
        now = utcnow()
        while hour <= now:
            hours.append(hour)
            hour += timedelta(hours=1)
        total = 0.0
        for item in self._get_raw([_bucket(kind, h)[0] for h in hours]):
            hour_start = datetime.strptime(item["fingerprint"]["S"].rsplit("#", 1)[1] + "+0000",
                                           "%Y-%m-%dT%H%z")
            for attr, value in item.items():
                if attr.startswith("m") and len(attr) == 3 and \
                        hour_start + timedelta(minutes=int(attr[1:])) >= start:
                    total += float(value["N"])
        return total

    def _get_raw(self, keys: Iterable[str]) -> Iterable[dict[str, Any]]:
        keys = builtins.list(keys)
        for i in range(0, len(keys), 100):
            request: dict[str, Any] = {self.table_name: {"Keys": [self._key(k) for k in keys[i:i + 100]]}}
            while request:
                out = self._call("batch_get_item", RequestItems=request)
                yield from out.get("Responses", {}).get(self.table_name, [])
                request = out.get("UnprocessedKeys") or {}

    def usage_since(self, since: datetime) -> float:
        """Cost recorded since ``since`` (minute resolution, rounding towards more)."""
        return self._sum_buckets("usage", since)

    def count_attempts_since(self, since: datetime) -> int:
        """Attempts started since ``since`` (minute resolution, rounding towards more)."""
        return int(self._sum_buckets("attempts", since))

    # --- captured failing inputs (InputStore): ``dynamodb_inputs`` ---------------------------

    def inputs(self, fingerprint: str) -> builtins.list[CapturedInput]:
        return dynamodb_inputs.inputs(self, fingerprint)

    def add_inputs(self, fingerprint: str, inputs: Sequence[CapturedInput], keep: int) -> int:
        return dynamodb_inputs.add_inputs(self, fingerprint, inputs, keep)
