"""Each occurrence is counted once (issue #12, point 2).

AWS: a retried or duplicated CloudWatch Logs delivery (same log stream, same event ids) adds
nothing, through the real ingest handler on moto DynamoDB with the ledger the composition root
builds; a try that failed part-way is finished by its retry without counting twice.
Local: the per-file cursor shared by ``ingest``, ``ingest --follow`` and ``watch``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions import ingest
from selfheal.adapters.delivery_ledger import DELIVERY_PREFIX, DynamoDBDeliveryLedger, MemoryDeliveryLedger
from selfheal.adapters.file_cursor import CursorFollower, CursorReader, CursorStore
from selfheal.compose.store import build_ingest_service, build_log_follower
from selfheal.domain.cloudwatch import decode_subscription
from selfheal.domain.records import Observation
from selfheal.errors import StoreUnavailable
from selfheal.ports import ObserveResult
from selfheal.settings import load_settings
from tests.support.tracking_aws import LambdaContext
from tests.support.tracking_logs import cloudwatch_event, log_lines, traceback_events
from tests.support.tracking_stores import dynamodb_store


@pytest.fixture
def store() -> Iterator[Any]:
    with dynamodb_store() as s:
        ingest.configure(build_ingest_service(load_settings(env={}), s))
        yield s
    ingest.configure(None)


def counts(store: Any) -> list[int]:
    return sorted(r.count for r in store.list())


def test_a_retried_lambda_batch_counts_once(store: Any) -> None:
    from selfheal.compose import aws

    assert isinstance(aws.ingest_service().ledger, DynamoDBDeliveryLedger)
    event = cloudwatch_event(traceback_events(3, 2))
    first = ingest.handler(event, LambdaContext())
    assert (first["tracebacks"], first["writes"]) == (6, 3)  # one write per distinct error (+ the ledger's)
    again = ingest.handler(event, LambdaContext())  # Lambda's retry, or a duplicated delivery
    assert (again["tracebacks"], again["redelivered"], again["writes"]) == (0, 1, 0)
    assert counts(store) == [2, 2, 2]
    # Another delivery (other events: the test helper numbers events from 0 in each payload, so a
    # payload of another stream stands in for them) counts.
    other = cloudwatch_event(traceback_events(3, 1), stream="2026/11/29/[$LATEST]def")
    ingest.handler(other, LambdaContext())
    assert counts(store) == [3, 3, 3]
    # The ledger's items are meta items: no error, no list entry; they expire (TTL attribute).
    items = store.client.scan(TableName=store.table_name)["Items"]
    ledger = [i for i in items if i["fingerprint"]["S"].startswith(DELIVERY_PREFIX)]
    assert len(ledger) == 2 and all("expires_at" in i and "status" not in i for i in ledger)


class FailingOnce:
    """A store whose second ``observe`` of a run fails once (DynamoDB throttled mid-batch)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls, self.failed = inner, 0, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def observe(self, obs: Observation) -> ObserveResult:
        self.calls += 1
        if self.calls == 2 and not self.failed:
            self.failed = True
            raise StoreUnavailable("throttled")
        result: ObserveResult = self.inner.observe(obs)
        return result


@pytest.mark.parametrize("kind", ["dynamodb", "memory"])
def test_a_batch_that_failed_part_way_is_finished_by_its_retry_without_double_counting(kind: str) -> None:
    from selfheal.domain.fingerprint import FingerprintConfig
    from selfheal.services.ingest import IngestService
    from selfheal.services.policy import Policy

    with dynamodb_store() as real:
        flaky = FailingOnce(real)
        ledger = DynamoDBDeliveryLedger.for_store(real) if kind == "dynamodb" else MemoryDeliveryLedger()
        service = IngestService(flaky, Policy(), FingerprintConfig(), ledger=ledger)  # type: ignore[arg-type]
        batch = decode_subscription(cloudwatch_event(traceback_events(3, 2))["awslogs"]["data"])
        with pytest.raises(StoreUnavailable):
            service.ingest_batch(batch)
        assert counts(real) == [2]  # the first error was written before the failure
        retry = service.ingest_batch(batch)
        assert retry.writes == 2 and counts(real) == [2, 2, 2]
        third = service.ingest_batch(batch)
        assert third.redelivered == 1 and counts(real) == [2, 2, 2]


# --------------------------------------------------------------------------- local cursor


def write(path: Path, errors: int, occurrences: int, mode: str = "a") -> None:
    with path.open(mode, encoding="utf-8") as fh:
        fh.write("\n".join(log_lines(errors, occurrences)) + "\n")


def test_cursor_resumes_and_notices_rotation(tmp_path: Path) -> None:
    cursors = CursorStore(tmp_path / "cursors.db")
    log = tmp_path / "app.log"
    write(log, 1, 2, "w")
    reader = CursorReader(log, cursors)
    assert reader.start == 0 and list(reader.lines())
    reader.commit()
    size = log.stat().st_size
    again = CursorReader(log, cursors)
    assert (again.start, list(again.lines()), again.rotated) == (size, [], False)
    # logrotate's rename + create: another inode.
    log.rename(tmp_path / "app.log.1")
    write(log, 1, 3, "w")
    rotated = CursorReader(log, cursors)
    assert rotated.rotated and rotated.start == 0
    rotated.commit()
    # copytruncate followed by more writes than before: same inode, other first bytes.
    big = log.stat().st_size
    with log.open("w", encoding="utf-8") as fh:
        fh.write("2026-12-07 00:00:00 INFO a new day\n" + "\n".join(log_lines(2, 4)) + "\n")
    assert log.stat().st_size > big
    truncated = CursorReader(log, cursors)
    assert truncated.rotated and truncated.start == 0
    assert CursorReader(log, cursors, from_start=True).start == 0


def test_watch_continues_where_ingest_stopped(tmp_path: Path) -> None:
    """``ingest`` then ``watch`` (and the reverse) share one cursor: nothing is read twice."""
    settings = load_settings({"home": tmp_path / "home"}, env={})
    log = tmp_path / "app.log"
    write(log, 2, 2, "w")
    from selfheal.adapters.sqlite_store import SqliteErrorStore

    store = SqliteErrorStore(tmp_path / "home" / "errors.db")
    service = build_ingest_service(settings, store)
    reader = CursorReader(log, CursorStore(tmp_path / "home" / "cursors.db"))
    service.ingest_lines(reader.lines(), str(log))
    reader.commit()
    follower = build_log_follower(settings, log)
    assert isinstance(follower, CursorFollower)
    assert follower.read() == ([], log.stat().st_size)
    write(log, 2, 1)
    lines, end = follower.read()
    service.ingest_lines(lines, str(log))
    follower.commit(end)
    assert counts(store) == [3, 3]
    resumed = CursorReader(log, CursorStore(tmp_path / "home" / "cursors.db"))
    assert resumed.start == end == log.stat().st_size


def test_watch_takes_over_the_offset_an_older_watch_saved(tmp_path: Path) -> None:
    from selfheal.services.workflow.watch import LogFollower, state_file_for

    settings = load_settings({"home": tmp_path / "home"}, env={})
    log = tmp_path / "app.log"
    write(log, 1, 1, "w")
    LogFollower(log, state_file_for(settings.home, log)).commit(log.stat().st_size)
    assert build_log_follower(settings, log).read()[0] == []
    assert build_log_follower(settings, log, from_start=True).read()[0] != []


def test_the_table_expires_ledger_items_by_the_attribute_the_ledger_writes() -> None:
    from selfheal.adapters.dynamodb_codec import DELIVERY_TTL_ATTRIBUTE
    from tests.support.deploy_sam import load_template

    table = load_template()["Resources"]["ErrorsTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": DELIVERY_TTL_ATTRIBUTE, "Enabled": True}
    with dynamodb_store() as s:  # create_table (tests, benchmarks, tooling) enables it too
        ttl = s.client.describe_time_to_live(TableName=s.table_name)["TimeToLiveDescription"]
        assert ttl["AttributeName"] == DELIVERY_TTL_ATTRIBUTE and ttl["TimeToLiveStatus"] == "ENABLED"
