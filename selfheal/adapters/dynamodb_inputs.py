"""Captured failing inputs (``InputStore``) on the DynamoDB error table.

Kept on the record's item as a list of JSON strings (``captured_inputs``) with their digests in a
string set (``captured_digests``): at most ``keep`` inputs of ``settings.capture_max_bytes`` each,
so the item stays far below DynamoDB's 400 KB. Each new input is ONE conditional UpdateItem (the
list is not full, the digest not in the set), so the ingest function needs no read permission and
two writers cannot exceed ``keep``. ``input_attributes`` gives a fingerprint migration the
attributes to carry onto a merged item (``store_migration``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from selfheal.adapters.dynamodb_codec import _Expr, from_item, to_av
from selfheal.domain.capture import CapturedInput, merge_inputs

if TYPE_CHECKING:
    from selfheal.adapters.dynamodb_store import DynamoDBErrorStore

INPUTS_ATTRIBUTE = "captured_inputs"
DIGESTS_ATTRIBUTE = "captured_digests"


def decode_inputs(item: dict[str, Any]) -> list[CapturedInput]:
    """The inputs an item (DynamoDB JSON) holds, first seen first."""
    raw = from_item({k: v for k, v in item.items() if k == INPUTS_ATTRIBUTE}).get(INPUTS_ATTRIBUTE) or []
    return [CapturedInput.model_validate_json(text) for text in raw]


def input_attributes(inputs: Sequence[CapturedInput]) -> dict[str, Any]:
    """The item attributes (DynamoDB JSON) that hold ``inputs`` (none when empty: DynamoDB has
    no empty string set)."""
    if not inputs:
        return {}
    return {INPUTS_ATTRIBUTE: to_av([i.model_dump_json() for i in inputs]),
            DIGESTS_ATTRIBUTE: {"SS": sorted({i.digest for i in inputs})}}


def inputs(store: DynamoDBErrorStore, fingerprint: str) -> list[CapturedInput]:
    out = store._call("get_item", TableName=store.table_name, Key=store._key(fingerprint),
                      ProjectionExpression="#i", ExpressionAttributeNames={"#i": INPUTS_ATTRIBUTE},
                      ConsistentRead=True)
    return decode_inputs(out.get("Item") or {})


def add_inputs(store: DynamoDBErrorStore, fingerprint: str, inputs: Sequence[CapturedInput],
               keep: int) -> int:
    kept = -1  # unknown until a write answers
    for item in merge_inputs([], inputs, keep):  # distinct, replayable first
        e = _Expr()
        lst, digests, status = e.name(INPUTS_ATTRIBUTE), e.name(DIGESTS_ATTRIBUTE), e.name("status")
        empty, new, limit = e.value([]), e.value([item.model_dump_json()]), e.value(keep)
        e.values[":digest_set"] = {"SS": [item.digest]}
        e.values[":digest"] = {"S": item.digest}
        try:
            out = store._call(
                "update_item", TableName=store.table_name, Key=store._key(fingerprint),
                UpdateExpression=f"SET {lst} = list_append(if_not_exists({lst}, {empty}), {new}) "
                                 f"ADD {digests} :digest_set",
                ConditionExpression=(f"attribute_exists({status}) AND (attribute_not_exists({lst}) "
                                     f"OR size({lst}) < {limit}) AND NOT contains({digests}, :digest)"),
                ReturnValues="UPDATED_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD", **e.kwargs())
        except Exception as exc:
            if store._code(exc) != "ConditionalCheckFailedException":
                raise
            old = getattr(exc, "response", {}).get("Item") or {}
            kept = len(from_item(old).get(INPUTS_ATTRIBUTE) or []) if old else kept
            continue
        kept = len(from_item(out.get("Attributes") or {}).get(INPUTS_ATTRIBUTE) or [])
    return kept
