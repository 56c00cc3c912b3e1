"""DynamoDB side of the error store: table schema, item encoding/decoding, expressions.

Used by ``dynamodb_store.DynamoDBErrorStore`` (which re-exports these names) and by stream
consumers that turn images back into records.

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

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from selfheal.adapters.store_common import ts
from selfheal.domain.records import ErrorRecord

STATUS_INDEX = "status-first_seen"
META_PREFIX = "#meta#"
# The TTL attribute of meta items that expire (delivery_ledger); the template enables it.
DELIVERY_TTL_ATTRIBUTE = "expires_at"
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


def create_table(table_name: str, client: Any = None) -> dict[str, Any]:
    """Create the table with ``TABLE_SCHEMA`` (tests, benchmarks, local tooling); returns it."""
    client = client or _default_client()
    client.create_table(TableName=table_name, **TABLE_SCHEMA)
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(TableName=table_name, TimeToLiveSpecification={
        "AttributeName": DELIVERY_TTL_ATTRIBUTE, "Enabled": True})
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
