"""``DeliveryLedger`` adapters: one small item per delivered log payload, kept for a day.

DynamoDB: the item lives in the error table as a meta item ``#meta#delivery#<key>`` (no
``status``: never an error, never in the index) with ``expires_at`` for the table's TTL. A first
delivery is one conditional ``PutItem`` (``attribute_not_exists``), so the cost is one write per
batch on top of one write per distinct fingerprint (a re-delivery: that put and one update, both
failing their conditions). A delivery whose processing raised is marked
``partial`` with the fingerprints it already wrote; its retry claims it back with a conditional
update and writes only the others. A claim that finds the item ``claimed`` (counted, or a try
that crashed without reporting) skips the delivery: an occurrence is counted at most once.

Memory: the same rules in a dict (local runs and tests).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from selfheal.adapters.dynamodb_codec import DELIVERY_TTL_ATTRIBUTE, META_PREFIX

DELIVERY_PREFIX = META_PREFIX + "delivery#"
DELIVERY_TTL_SECONDS = 24 * 3600  # CloudWatch Logs and Lambda retry within hours, not days
_CLAIMED, _PARTIAL = "claimed", "partial"


class MemoryDeliveryLedger:
    """``DeliveryLedger`` in memory (see module docstring)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, set[str]]] = {}
        self._lock = threading.Lock()

    def claim(self, key: str) -> set[str] | None:
        with self._lock:
            state, done = self._items.get(key, ("", set()))
            if state == _CLAIMED:
                return None
            self._items[key] = (_CLAIMED, set(done))
            return set(done)

    def fail(self, key: str, done: set[str]) -> None:
        with self._lock:
            self._items[key] = (_PARTIAL, set(done))


class DynamoDBDeliveryLedger:
    """``DeliveryLedger`` as meta items of the DynamoDB error table (see module docstring)."""

    def __init__(self, table_name: str, client: Any = None, *, store: Any = None) -> None:
        self.table_name = table_name
        self._client = client
        self._store = store  # a DynamoDBErrorStore whose (lazily built) client is shared

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._store.client
        return self._client

    @classmethod
    def for_store(cls, store: Any) -> DynamoDBDeliveryLedger:
        """The ledger in ``store``'s table, on its client."""
        return cls(store.table_name, store=store)

    def _key(self, key: str) -> dict[str, Any]:
        return {"fingerprint": {"S": DELIVERY_PREFIX + key}}

    @staticmethod
    def _conditional_failed(exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return bool(code == "ConditionalCheckFailedException")

    def claim(self, key: str) -> set[str] | None:
        expires = {"N": str(int(time.time()) + DELIVERY_TTL_SECONDS)}
        try:
            self.client.put_item(
                TableName=self.table_name, Item={**self._key(key), "state": {"S": _CLAIMED},
                                                 DELIVERY_TTL_ATTRIBUTE: expires},
                ConditionExpression="attribute_not_exists(#fp)",
                ExpressionAttributeNames={"#fp": "fingerprint"})
            return set()
        except Exception as exc:
            if not self._conditional_failed(exc):
                raise
        # Delivered before: only a partial try may be taken over (by exactly one retry), with a
        # conditional update; a plain re-delivery costs that failed update and the failed put
        # (the ingest role may write the table, not read it).
        try:
            out = self.client.update_item(
                TableName=self.table_name, Key=self._key(key), UpdateExpression="SET #s = :claimed",
                ConditionExpression="#s = :partial", ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":claimed": {"S": _CLAIMED}, ":partial": {"S": _PARTIAL}},
                ReturnValues="ALL_OLD")
        except Exception as exc:
            if not self._conditional_failed(exc):
                raise
            return None
        return set(out.get("Attributes", {}).get("done", {}).get("SS", []))

    def fail(self, key: str, done: set[str]) -> None:
        item = {**self._key(key), "state": {"S": _PARTIAL},
                DELIVERY_TTL_ATTRIBUTE: {"N": str(int(time.time()) + DELIVERY_TTL_SECONDS)}}
        if done:
            item["done"] = {"SS": sorted(done)}
        self.client.put_item(TableName=self.table_name, Item=item)
