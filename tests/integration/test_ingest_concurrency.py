"""8 threads ingest overlapping duplicates into each adapter: exact counts, one NEW record and
one fix request per error."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions import dispatch
from selfheal.adapters.dynamodb_store import DynamoDBErrorStore
from selfheal.compose import aws as aws_root
from selfheal.compose.aws import DispatchDeps
from selfheal.domain.fingerprint import FingerprintConfig
from selfheal.domain.records import Status
from selfheal.services.ingest import IngestReport, IngestService
from selfheal.services.policy import Policy
from tests.support.tracking_aws import LambdaContext, stream_event, tracking_aws
from tests.support.tracking_logs import log_lines
from tests.support.tracking_stores import TABLE, atomic_moto_requests, sqlite_store

THREADS, ERRORS, OCCURRENCES, BATCHES = 8, 6, 12, 4


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        with sqlite_store(tmp_path) as s:
            yield s
    else:
        with atomic_moto_requests(), tracking_aws() as aws:
            aws_root.configure(dispatch=DispatchDeps(Policy(), aws.sqs, aws.queue_url))
            store = DynamoDBErrorStore(TABLE, client=aws.ddb)
            store.aws = aws  # type: ignore[attr-defined]
            yield store
        aws_root.configure(dispatch=None)


def test_eight_threads_exact_counts(store: Any) -> None:
    svc = IngestService(store, Policy(), FingerprintConfig())
    lines = log_lines(ERRORS, OCCURRENCES)
    per_batch = len(lines) // BATCHES
    barrier = threading.Barrier(THREADS)
    reports: list[IngestReport] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            for b in range(BATCHES):
                # every thread ingests every defect, in a different batch order
                k = (b + n) % BATCHES
                report = svc.ingest_lines(lines[k * per_batch:(k + 1) * per_batch], f"thread-{n}")
                with lock:
                    reports.append(report)
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    assert not any(t.is_alive() for t in threads)

    records = store.list()
    assert len(records) == ERRORS
    assert [r.count for r in records] == [THREADS * OCCURRENCES] * ERRORS
    assert all(r.status == Status.NEW for r in records)
    new = [fp for r in reports for fp in r.new]
    to_fix = [fp for r in reports for fp in r.to_fix]
    assert sorted(new) == sorted(r.fingerprint for r in records)  # created exactly once each
    assert sorted(to_fix) == sorted(new)  # one fix request per new error
    assert sum(r.tracebacks for r in reports) == THREADS * ERRORS * OCCURRENCES
    assert sum(r.writes for r in reports) == sum(r.distinct for r in reports)
    aws = getattr(store, "aws", None)
    if aws is not None:  # on AWS the stream decides: exactly one message per new error
        records = aws.stream.poll()
        assert dispatch.handler(stream_event(records), LambdaContext()) == {"batchItemFailures": []}
        bodies = [json.loads(m["Body"]) for m in aws.receive_all()]
        assert sorted(b["fingerprint"] for b in bodies) == sorted(new)
