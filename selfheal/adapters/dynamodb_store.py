"""``ErrorStore`` on one DynamoDB table (the production store).

Table schema (``TABLE_SCHEMA``; the SAM template copies it)::

    BillingMode: PAY_PER_REQUEST
    KeySchema: [{AttributeName: fingerprint, KeyType: HASH}]
    AttributeDefinitions: [{fingerprint, S}, {status, S}, {first_seen, S}]
    GlobalSecondaryIndexes:
      - IndexName: status-first_seen
        KeySchema: [{status, HASH}, {first_seen, RANGE}]
        Projection: KEYS_ONLY
    StreamSpecification: {StreamEnabled: true, StreamViewType: NEW_AND_OLD_IMAGES}

Why the index is keyed on ``first_seen`` and KEYS_ONLY: ``observe`` updates ``count`` and
``last_seen`` on every log batch; an index that projected or sorted on them would cost an index
write (two, when a sort key changes) per update. This one is written only on insert and status
change; ``list`` reads the keys from it and the records with ``BatchGetItem``.

Item layout: one item per error, keyed by fingerprint, holding the ``ErrorRecord`` fields as
top-level attributes (timestamps as UTC ISO strings), ``attempts`` as a map ``{"1": {...,
"steps": {"<state>|<started_at>": {...}}}}`` (so ``record_step`` is one nested ``SET``, safe for
concurrent writers) and ``attempt_count``. Per-hour counters for the caps live in meta items
``#meta#attempts#<YYYY-MM-DDTHH>`` / ``#meta#usage#<...>`` with one numeric attribute per minute
(``m00``..``m59``, incremented with ``ADD``); they carry no ``status``, so they never appear in
the index, in ``list`` or as errors in the stream (``record_from_image`` returns None for them).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from selfheal.adapters.store_common import (
    allowed_sources,
    check_attempt_fields,
    refused,
    transition_fields,
    ts,
)
from selfheal.domain.records import (
    Attempt,
    ErrorRecord,
    Observation,
    Status,
    StepRecord,
    utcnow,
)
from selfheal.errors import ConcurrentUpdate, ErrorNotFound, StoreUnavailable
from selfheal.ports import ObserveResult

STATUS_INDEX = "status-first_seen"
META_PREFIX = "#meta#"
TABLE_SCHEMA: dict[str, Any] = {
    "BillingMode": "PAY_PER_REQUEST",
    "KeySchema": [{"AttributeName": "fingerprint", "KeyType": "HASH"}],
    "AttributeDefinitions": [
        {"AttributeName": "fingerprint", "AttributeType": "S"},
        {"AttributeName": "status", "AttributeType": "S"},
        {"AttributeName": "first_seen", "AttributeType": "S"},
    ],
    "GlobalSecondaryIndexes": [{
        "IndexName": STATUS_INDEX,
        "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                      {"AttributeName": "first_seen", "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    }],
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
}
_THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
              "InternalServerError", "ServiceUnavailable"}


def create_table(table_name: str, client: Any = None) -> dict[str, Any]:
    """Create the table with ``TABLE_SCHEMA`` (tests, benchmarks, local tooling); returns it."""
    client = client or _default_client()
    client.create_table(TableName=table_name, **TABLE_SCHEMA)
    client.get_waiter("table_exists").wait(TableName=table_name)
    table: dict[str, Any] = client.describe_table(TableName=table_name)["Table"]
    return table


def _default_client() -> Any:
    import boto3  # lazily: the ingest Lambda's cold import stays light

    return boto3.client("dynamodb")


# --- attribute value conversion -------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-like Python value -> one DynamoDB accepts (floats as Decimal, datetimes as text)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, datetime):
        return ts(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump(mode="json"))
    raise TypeError(f"cannot store {type(value).__name__}")


def to_av(value: Any) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    out: dict[str, Any] = TypeSerializer().serialize(_plain(value))
    return out


def _unplain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _unplain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    return value


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    return {k: _unplain(des.deserialize(v)) for k, v in item.items()}


def record_from_image(image: dict[str, Any] | None) -> ErrorRecord | None:
    """An ``ErrorRecord`` from an item in DynamoDB JSON (a stream image); None for meta items."""
    if not image or "status" not in image:
        return None
    doc = from_item(image)
    if str(doc.get("fingerprint", "")).startswith(META_PREFIX):
        return None
    attempts = []
    for att in sorted((doc.get("attempts") or {}).values(), key=lambda a: int(a["number"])):
        steps = sorted((att.get("steps") or {}).values(), key=lambda s: (s["started_at"], s["state"]))
        attempts.append({**att, "steps": steps})
    doc["attempts"] = attempts
    doc.pop("attempt_count", None)
    return ErrorRecord.model_validate(doc)


class _Expr:
    """Builds an update/condition expression with placeholders for every name and value."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, name: str) -> str:
        """A placeholder for one attribute name (never split: step keys contain dots)."""
        for key, value in self.names.items():
            if value == name:
                return key
        key = f"#n{len(self.names)}"
        self.names[key] = name
        return key

    def value(self, value: Any) -> str:
        key = f":v{len(self.values)}"
        self.values[key] = to_av(value)
        return key

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ExpressionAttributeNames": self.names}
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out


def _bucket(kind: str, at: datetime) -> tuple[str, str]:
    at = at.astimezone(UTC)
    return f"{META_PREFIX}{kind}#{at:%Y-%m-%dT%H}", f"m{at:%M}"


class DynamoDBErrorStore:
    """Error records in a DynamoDB table (schema in the module docstring)."""

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
        """Fingerprints starting with ``prefix`` (at most 10), for prefix lookups in the CLI."""
        e = _Expr()
        kwargs: dict[str, Any] = {
            "TableName": self.table_name, "ProjectionExpression": e.name("fingerprint"),
            "FilterExpression": f"begins_with({e.name('fingerprint')}, {e.value(prefix)}) "
                                f"AND attribute_exists({e.name('status')})", **e.kwargs()}
        found: builtins.list[str] = []
        while True:
            out = self._call("scan", **kwargs)
            found += [item["fingerprint"]["S"] for item in out.get("Items", [])]
            if "LastEvaluatedKey" not in out or len(found) >= 10:
                return sorted(found)[:10]
            kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]

    def transition(self, fingerprint: str, to: Status, *, expected: Sequence[Status] | None = None,
                   reason: str | None = None, fields: dict[str, Any] | None = None) -> ErrorRecord:
        """Conditional status change: one ``UpdateItem`` with ``status IN (allowed sources)``."""
        to = Status(to)
        allowed = allowed_sources(to, expected)
        extra = transition_fields(fields)
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

    def _update_attempt(self, fingerprint: str, attempt: int, e: _Expr, expr: str) -> None:
        cond = f"attribute_exists({e.name('attempts')}.{e.name(str(attempt))})"
        try:
            self._call("update_item", TableName=self.table_name, Key=self._key(fingerprint),
                       UpdateExpression=expr, ConditionExpression=cond, **e.kwargs())
        except Exception as exc:
            if self._code(exc) == "ConditionalCheckFailedException":
                raise ErrorNotFound(f"no attempt {attempt} of error {fingerprint}") from exc
            raise

    def record_step(self, fingerprint: str, attempt: int, step: StepRecord) -> None:
        """One nested ``SET`` of ``attempts.<n>.steps.<state>|<started_at>``."""
        e = _Expr()
        path = f"{e.name('attempts')}.{e.name(str(attempt))}.{e.name('steps')}"
        key = e.name(f"{step.state}|{ts(step.started_at)}")
        self._update_attempt(fingerprint, attempt, e, f"SET {path}.{key} = {e.value(step)}")

    def finish_attempt(self, fingerprint: str, attempt: int, **fields: Any) -> None:
        """Set outcome / failed_state / error / cause / reasons / finished_at (and execution)."""
        check_attempt_fields(fields)
        if not fields:
            return
        checked = Attempt.model_validate({"number": attempt, **fields}).model_dump(mode="json")
        e = _Expr()
        base = f"{e.name('attempts')}.{e.name(str(attempt))}"
        expr = "SET " + ", ".join(f"{base}.{e.name(k)} = {e.value(checked[k])}" for k in fields)
        self._update_attempt(fingerprint, attempt, e, expr)

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
