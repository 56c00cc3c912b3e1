"""The ingest Lambda on moto DynamoDB: good batches and every kind of bad input. Bad input gets
one clear log line and a metric, and the other records of the invocation are still processed."""

from __future__ import annotations

import base64
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions import ingest
from selfheal.domain.fingerprint import FingerprintConfig
from selfheal.services.ingest import IngestService
from selfheal.services.policy import Policy
from tests.support.tracking_aws import LambdaContext
from tests.support.tracking_logs import subscription_data, traceback_events, traceback_text
from tests.support.tracking_stores import dynamodb_store

EVENTS = Path(__file__).resolve().parents[1] / "events"


@pytest.fixture
def store() -> Iterator[Any]:
    with dynamodb_store() as s:
        ingest.configure(IngestService(s, Policy(), FingerprintConfig()))
        yield s
    ingest.configure(None)
    ingest.logger.registered_handler.stream = sys.__stdout__  # type: ignore[attr-defined]


Cap = pytest.CaptureFixture[str]


def run(event: dict[str, Any], capsys: Cap) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, float]]:
    """Invoke the handler; return its result, its log lines and its EMF metric totals."""
    # the Powertools logger holds the stdout of import time; point it at the captured one
    handler = ingest.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    handler.stream = sys.stdout  # not setStream: that flushes the old, possibly closed, stream
    result = ingest.handler(event, LambdaContext())
    logs, metrics = [], {}
    for line in capsys.readouterr().out.splitlines():
        doc = json.loads(line)
        if "_aws" in doc:
            for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = doc[m["Name"]]
                metrics[m["Name"]] = sum(value) if isinstance(value, list) else value
        else:
            logs.append(doc)
    return result, logs, metrics


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


def test_batch_of_tracebacks(store: Any, capsys: Cap) -> None:
    result, logs, metrics = run(load("cloudwatch_tracebacks.json"), capsys)
    assert result["tracebacks"] == 6 and result["distinct"] == 3 and result["writes"] == 3
    assert metrics["TracebacksSeen"] == 6 and metrics["NewErrors"] == 3 and metrics["Duplicates"] == 3
    assert metrics["StoreWrites"] == 3
    assert sorted(r.count for r in store.list()) == [2, 2, 2]
    rec = store.list()[0]
    assert rec.source == "/aws/lambda/orders 2026/11/29/[$LATEST]abc"
    assert any(line["message"] == "ingested" for line in logs)


def test_traceback_split_over_events(store: Any, capsys: Cap) -> None:
    result, _, _ = run(load("cloudwatch_line_per_event.json"), capsys)
    assert result["tracebacks"] == 1
    (rec,) = store.list()
    assert rec.exc_type == "AttributeError" and rec.sample_trace.startswith("Traceback")


@pytest.mark.parametrize(("name", "stage"), [
    ("cloudwatch_not_base64.json", "base64"),
    ("cloudwatch_not_gzip.json", "gzip"),
    ("cloudwatch_not_json.json", "JSON"),
])
def test_undecodable_payload(store: Any, capsys: pytest.CaptureFixture[str], name: str, stage: str) -> None:
    result, logs, metrics = run(load(name), capsys)
    assert result["tracebacks"] == 0 and metrics["MalformedRecords"] == 1
    (err,) = [line for line in logs if line["level"] == "ERROR"]
    assert err["message"] == "malformed log record skipped" and stage in err["reason"]
    assert store.list() == []


def test_control_message_and_empty_batch(store: Any, capsys: Cap) -> None:
    _, logs, metrics = run(load("cloudwatch_control.json"), capsys)
    assert metrics["ControlMessages"] == 1 and any(x["message"] == "control message skipped" for x in logs)
    _, logs, metrics = run(load("cloudwatch_empty_batch.json"), capsys)
    assert metrics["EmptyBatches"] == 1 and any(x["message"] == "empty batch skipped" for x in logs)
    _, logs, metrics = run({"Records": []}, capsys)
    assert metrics["EmptyBatches"] == 1
    assert store.list() == []


def test_oversized_event_is_reported_and_the_rest_processed(store: Any, capsys: Cap) -> None:
    huge = traceback_text(1, 0) + "\n" + "x" * (300 * 1024)
    event = {"awslogs": {"data": subscription_data([traceback_text(0, 1), huge, traceback_text(2, 2)])}}
    result, logs, metrics = run(event, capsys)
    assert metrics["OversizedEvents"] == 1 and result["oversized"] == 1
    warn = [x for x in logs if x["level"] == "WARNING"]
    assert len(warn) == 1 and warn[0]["message"].startswith("oversized log event 36000001")
    assert result["tracebacks"] == 3 and len(store.list()) == 3


def test_kinesis_records_bad_one_skipped_others_processed(store: Any, capsys: Cap) -> None:
    good = subscription_data(traceback_events(2, 1))
    records = [{"eventID": "shard-1:1", "kinesis": {"data": good}},
               {"eventID": "shard-1:2", "kinesis": {"data": base64.b64encode(b"garbage").decode()}},
               {"eventID": "shard-1:3", "kinesis": {"data": subscription_data([traceback_text(3, 1)])}}]
    result, logs, metrics = run({"Records": records}, capsys)
    assert metrics["MalformedRecords"] == 1 and result["tracebacks"] == 3
    (err,) = [x for x in logs if x["level"] == "ERROR"]
    assert err["record"] == "shard-1:2"
    assert len(store.list()) == 3
