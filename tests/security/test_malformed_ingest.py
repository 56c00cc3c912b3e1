"""Ingest never crashes on a record and never counts twice. Each malformed record class rides in a
batch with valid records: it is skipped with a logged reason and a metric, and every valid
traceback is counted exactly once (on moto DynamoDB, through the Lambda handler)."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions import ingest
from selfheal.domain.fingerprint import FingerprintConfig
from selfheal.domain.records import Observation
from selfheal.errors import StoreUnavailable
from selfheal.ports import ObserveResult
from selfheal.services.ingest import IngestService
from selfheal.services.policy import Policy
from tests.integration.test_ingest_handler import Cap, run
from tests.support.tracking_logs import subscription_data, traceback_text
from tests.support.tracking_stores import dynamodb_store


class FlakyStore:
    """The real store, failing the first write of the fingerprints in ``fail`` (a throttle)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.fail: set[str] = set()

    def observe(self, obs: Observation) -> ObserveResult:
        if obs.fingerprint in self.fail:
            self.fail.discard(obs.fingerprint)
            raise StoreUnavailable("throttled")
        return self.inner.observe(obs)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def store() -> Iterator[FlakyStore]:
    with dynamodb_store() as inner:
        flaky = FlakyStore(inner)
        ingest.configure(IngestService(flaky, Policy(), FingerprintConfig()))  # type: ignore[arg-type]
        yield flaky
    ingest.configure(None)
    ingest.logger.registered_handler.stream = sys.__stdout__  # type: ignore[attr-defined]


def counts(store: FlakyStore) -> list[int]:
    return sorted(r.count for r in store.inner.list())


def kinesis(seq: int, data: Any) -> dict[str, Any]:
    return {
        "eventID": f"shardId-000:{seq}",
        "eventSource": "aws:kinesis",
        "kinesis": {"data": data, "sequenceNumber": str(seq), "partitionKey": "p"},
    }


def _gz(raw: bytes) -> str:
    return base64.b64encode(gzip.compress(raw)).decode()


DEEP_PAYLOAD = _gz(b"[" * 200_000 + b"]" * 200_000)
DEEP_LINE = '{"a":' * 100_000 + "1" + "}" * 100_000


@pytest.mark.parametrize(
    ("case", "awslogs"),
    [
        ("no data", {}),
        ("data None", {"data": None}),
        ("data int", {"data": 42}),
        ("awslogs a string", "x"),
        ("JSON nested too deeply", {"data": DEEP_PAYLOAD}),
    ],
)
def test_a_bad_awslogs_payload_is_skipped(store: FlakyStore, capsys: Cap, case: str, awslogs: Any) -> None:
    result, logs, metrics = run({"awslogs": awslogs}, capsys)
    assert result["tracebacks"] == 0 and metrics["MalformedRecords"] == 1, case
    assert any(x["message"] == "malformed log record skipped" and x.get("reason") for x in logs), case


def test_records_not_a_list_is_skipped(store: FlakyStore, capsys: Cap) -> None:
    result, logs, metrics = run(
        {"Records": {"kinesis": {"data": subscription_data([traceback_text(0, 0)])}}}, capsys
    )
    assert result["tracebacks"] == 0 and metrics["MalformedRecords"] == 1
    assert any("not a list" in x.get("reason", "") for x in logs)


def test_bad_records_beside_good_ones(store: FlakyStore, capsys: Cap) -> None:
    records = [
        kinesis(1, subscription_data([traceback_text(0, 0)])),
        "junk",
        42,
        {"kinesis": "x"},
        kinesis(5, DEEP_PAYLOAD),
        kinesis(6, None),
        kinesis(7, subscription_data([traceback_text(1, 0), DEEP_LINE, traceback_text(2, 0)])),
    ]
    result, _logs, metrics = run({"Records": records}, capsys)
    assert metrics["MalformedRecords"] == 5
    assert result["tracebacks"] == 3 and result["batchItemFailures"] == []
    assert counts(store) == [1, 1, 1]


def test_an_event_with_a_non_string_message_does_not_drop_its_neighbours(
    store: FlakyStore, capsys: Cap
) -> None:
    doc = {
        "messageType": "DATA_MESSAGE",
        "logGroup": "g",
        "logStream": "s",
        "logEvents": [
            {"id": "1", "timestamp": 1, "message": {"nested": "dict"}},
            {"id": "2", "timestamp": 2, "message": traceback_text(0, 0)},
        ],
    }
    result, logs, metrics = run({"awslogs": {"data": _gz(json.dumps(doc).encode())}}, capsys)
    assert result["tracebacks"] == 1 and metrics["MalformedEvents"] == 1
    assert any(x["message"] == "malformed log event skipped" for x in logs)
    assert counts(store) == [1]


def _fingerprint(data: str) -> str:
    from selfheal.domain.cloudwatch import decode_subscription, extract_from_batch
    from selfheal.domain.fingerprint import fingerprint

    return fingerprint(extract_from_batch(decode_subscription(data))[0][0], FingerprintConfig()).id


def test_kinesis_partial_failure_then_retry_counts_each_once(store: FlakyStore, capsys: Cap) -> None:
    records = [kinesis(seq, subscription_data([traceback_text(seq, 0)])) for seq in range(1, 5)]
    store.fail = {_fingerprint(records[1]["kinesis"]["data"])}  # the second record's write is throttled once
    result, logs, _metrics = run({"Records": records}, capsys)
    # Record 2 failed; 3 and 4 were not processed (Lambda resumes the shard from 2): failed too.
    assert result["batchItemFailures"] == [
        {"itemIdentifier": "2"},
        {"itemIdentifier": "3"},
        {"itemIdentifier": "4"},
    ]
    assert result["tracebacks"] == 1 and counts(store) == [1]
    # Lambda's retry, from the lowest failed sequence number.
    retry, _logs, _metrics = run({"Records": records[1:]}, capsys)
    assert retry["batchItemFailures"] == [] and retry["tracebacks"] == 3
    assert counts(store) == [1, 1, 1, 1]


def test_a_batch_that_fails_entirely_is_reported_not_raised(store: FlakyStore, capsys: Cap) -> None:
    records = [kinesis(1, subscription_data([traceback_text(0, 0)]))]
    store.fail = {_fingerprint(records[0]["kinesis"]["data"])}
    result, _logs, _metrics = run({"Records": records}, capsys)
    assert result["batchItemFailures"] == [{"itemIdentifier": "1"}] and counts(store) == []


def test_sqs_partial_failure_reports_only_the_failed_message(store: FlakyStore, capsys: Cap) -> None:
    messages = [
        {
            "messageId": f"m{i}",
            "eventSource": "aws:sqs",
            "receiptHandle": "r",
            "attributes": {},
            "body": subscription_data([traceback_text(i, 0)]),
        }
        for i in range(3)
    ]
    store.fail = {_fingerprint(messages[1]["body"])}
    result, _logs, _metrics = run({"Records": messages}, capsys)
    assert result["batchItemFailures"] == [{"itemIdentifier": "m1"}] and result["tracebacks"] == 2
    retry, _logs, _metrics = run({"Records": [messages[1]]}, capsys)
    assert retry["batchItemFailures"] == [] and counts(store) == [1, 1, 1]


def test_stdin_with_invalid_utf8_under_a_strict_locale(tmp_path: Path) -> None:
    log = (
        b'Traceback (most recent call last):\n  File "/app/orders/handler.py", line 3, in handle\n'
        b"    total = price \xff\xfe * qty\nValueError: bad byte \xc3\x28 in input\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SELFHEAL_", "LC_", "PYTHON"))},
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "PYTHONUTF8": "0",
    }
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("selfheal")),
            "ingest",
            "-",
            "--home",
            str(tmp_path / "home"),
            "--json",
        ],
        input=log,
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert json.loads(proc.stdout)["new"], proc.stdout
