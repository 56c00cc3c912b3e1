"""IngestService on a real SQLite store with the real extractor and fingerprinting."""

from __future__ import annotations

from pathlib import Path

from selfheal.adapters.sqlite_store import SqliteErrorStore
from selfheal.domain.fingerprint import FingerprintConfig
from selfheal.domain.records import SAMPLE_TRACE_MAX_BYTES, Status
from selfheal.services.ingest import IngestService
from selfheal.services.policy import Policy
from tests.support.tracking_logs import log_lines


def service(tmp_path: Path, policy: Policy | None = None) -> IngestService:
    return IngestService(SqliteErrorStore(tmp_path / "errors.db"), policy or Policy(), FingerprintConfig())


def test_one_write_per_distinct_error_and_counts(tmp_path: Path) -> None:
    svc = service(tmp_path)
    report = svc.ingest_lines(log_lines(4, 25), "app.log")
    assert report.tracebacks == 100 and report.distinct == 4
    assert report.writes == 4  # one observe per distinct fingerprint, not per traceback
    assert len(report.new) == 4 and report.duplicates == 96
    assert sorted(report.to_fix) == sorted(report.new)
    assert set(report.reasons.values()) == {"new"}
    records = svc.store.list()
    assert sorted(r.count for r in records) == [25, 25, 25, 25]
    one = svc.store.get(report.new[0])
    assert one is not None and one.status == Status.NEW and one.source == "app.log"
    assert one.sample_trace.startswith("Traceback (most recent call last):")
    assert len(one.frames) == 2 and one.frames[0].file == "orders/handler.py"
    assert one.frames[1].file.startswith("orders/step")
    assert one.exc_type in {"KeyError", "ValueError", "TypeError", "ZeroDivisionError"}


def test_ingesting_twice_doubles_counts_adds_no_error(tmp_path: Path) -> None:
    svc = service(tmp_path)
    first = svc.ingest_lines(log_lines(3, 5), "app.log")
    second = svc.ingest_lines(log_lines(3, 5), "app.log")
    assert len(first.new) == 3 and second.new == [] and second.to_fix == []
    assert second.duplicates == 15
    assert sorted(r.count for r in svc.store.list()) == [10, 10, 10]


def test_ignore_rules_mark_ignored_and_do_not_queue(tmp_path: Path) -> None:
    svc = service(tmp_path, Policy(ignore_types=("KeyError",)))
    report = svc.ingest_lines(log_lines(2, 2), "app.log")  # defect 0 is a KeyError, 1 a ValueError
    assert len(report.ignored) == 1 and len(report.to_fix) == 1
    ignored = svc.store.get(report.ignored[0])
    assert ignored is not None and ignored.status == Status.IGNORED
    assert ignored.status_reason == "ignored by policy: exception type KeyError"


def test_min_occurrences_queues_when_reached(tmp_path: Path) -> None:
    svc = service(tmp_path, Policy(min_occurrences=3))
    assert svc.ingest_lines(log_lines(1, 2), "a").to_fix == []
    report = svc.ingest_lines(log_lines(1, 1), "a")
    assert len(report.to_fix) == 1 and report.reasons[report.to_fix[0]] == "new"
    assert svc.ingest_lines(log_lines(1, 1), "a").to_fix == []


def test_regression_after_resolved_keeps_previous_pr(tmp_path: Path) -> None:
    svc = service(tmp_path)
    (fp,) = svc.ingest_lines(log_lines(1, 1), "a").new
    svc.store.transition(fp, Status.FIXING)
    svc.store.transition(fp, Status.PR_OPEN, fields={"pr_url": "https://example.test/pr/7"})
    svc.store.transition(fp, Status.RESOLVED, reason="merged")
    report = svc.ingest_lines(log_lines(1, 2), "a")
    assert report.regressed == [fp] and report.to_fix == [fp] and report.reasons[fp] == "regressed"
    rec = svc.store.get(fp)
    assert rec is not None and rec.status == Status.REGRESSED and rec.count == 3
    assert rec.previous_pr_url == "https://example.test/pr/7"
    # seen again while REGRESSED: counted, not queued again
    assert svc.ingest_lines(log_lines(1, 1), "a").to_fix == []


def test_sample_trace_is_capped(tmp_path: Path) -> None:
    frames = "".join(f'  File "/app/orders/deep.py", line {i}, in f{i}\n    f{i + 1}()\n' for i in range(400))
    text = "Traceback (most recent call last):\n" + frames + "RecursionError: maximum recursion depth"
    report = service(tmp_path).ingest_lines(text.splitlines(), "a")
    rec = SqliteErrorStore(tmp_path / "errors.db").get(report.new[0])
    assert rec is not None and len(rec.sample_trace.encode()) <= SAMPLE_TRACE_MAX_BYTES
    assert rec.sample_trace.rstrip().endswith("RecursionError: maximum recursion depth")
