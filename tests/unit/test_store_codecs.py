"""Pure parts of the store adapters: DynamoDB attribute values, stream images, buckets, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from selfheal.adapters import dynamodb_store as ddb
from selfheal.adapters import sqlite_store as sq
from selfheal.domain.records import Attempt, ErrorRecord, FrameRef, Status, StepRecord


def test_timestamps_are_fixed_width_utc_and_sort_as_text() -> None:
    a = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    b = datetime(2026, 1, 2, 4, 4, 5, 1, tzinfo=timezone(timedelta(hours=2)))  # earlier in UTC
    assert sq.ts(a) == ddb.ts(a) == "2026-01-02T03:04:05.000000+00:00"
    assert sq.ts(b) < sq.ts(a) and len(sq.ts(b)) == len(sq.ts(a))
    assert sq.ts(datetime(2026, 1, 2)) == "2026-01-02T00:00:00.000000+00:00"  # naive = UTC


def test_attribute_values_round_trip() -> None:
    value = {"n": 3, "f": 0.25, "s": "x", "none": None, "b": True, "l": [1, "a", {"k": 1.5}],
             "when": datetime(2026, 1, 1, tzinfo=UTC)}
    av = ddb.to_av(value)
    assert av["M"]["f"] == {"N": "0.25"} and av["M"]["none"] == {"NULL": True}
    back = ddb.from_item(av["M"])
    assert back == {**value, "when": "2026-01-01T00:00:00.000000+00:00"}
    assert isinstance(back["n"], int) and isinstance(back["f"], float)
    with pytest.raises(TypeError):
        ddb.to_av({"x": object()})
    assert ddb._unplain(Decimal("2")) == 2 and ddb._unplain(Decimal("2.5")) == 2.5


def test_record_image_with_attempt_and_step_maps() -> None:
    rec = ErrorRecord(fingerprint="a" * 32, status=Status.FIXING, count=4, exc_type="KeyError",
                      frames=[FrameRef(file="app/x.py", function="f", line=3)])
    att = Attempt(number=2, execution="arn:x")
    step_b = StepRecord(state="BuildPrompt", started_at=datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC))
    step_a = StepRecord(state="FetchSource", started_at=datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC))
    doc = rec.model_dump(mode="json")
    doc["attempts"] = {
        "2": {**att.model_dump(mode="json"), "steps": {"b": step_b.model_dump(mode="json"),
                                                       "a": step_a.model_dump(mode="json")}},
        "1": {**Attempt(number=1).model_dump(mode="json"), "steps": {}},
    }
    doc["attempt_count"] = 2
    image = {k: ddb.to_av(v) for k, v in doc.items()}
    back = ddb.record_from_image(image)
    assert back is not None
    assert [a.number for a in back.attempts] == [1, 2]
    assert [s.state for s in back.attempts[1].steps] == ["FetchSource", "BuildPrompt"]
    assert back.frames == rec.frames and back.count == 4 and back.status == Status.FIXING


def test_meta_items_and_key_only_images_are_not_records() -> None:
    assert ddb.record_from_image(None) is None
    assert ddb.record_from_image({"fingerprint": {"S": "a" * 32}}) is None
    meta = {"fingerprint": {"S": "#meta#attempts#2026-01-01T00"}, "status": {"S": "NEW"}}
    assert ddb.record_from_image(meta) is None


def test_hour_buckets_and_expression_placeholders() -> None:
    key, minute = ddb._bucket("usage", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC))
    assert (key, minute) == ("#meta#usage#2026-03-04T05", "m06")
    e = ddb._Expr()
    assert e.name("status") == e.name("status") == "#n0"
    assert e.name("FetchSource|2026-01-01T00:00:00.000000+00:00") == "#n1"  # dots are not paths
    assert e.value(1) == ":v0" and e.kwargs()["ExpressionAttributeValues"][":v0"] == {"N": "1"}


def test_table_schema_is_what_the_template_needs() -> None:
    schema = ddb.TABLE_SCHEMA
    assert schema["KeySchema"] == [{"AttributeName": "fingerprint", "KeyType": "HASH"}]
    assert schema["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    (gsi,) = schema["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == ddb.STATUS_INDEX and gsi["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    defined = {a["AttributeName"] for a in schema["AttributeDefinitions"]}
    used = {k["AttributeName"] for k in schema["KeySchema"] + gsi["KeySchema"]}
    assert defined == used
