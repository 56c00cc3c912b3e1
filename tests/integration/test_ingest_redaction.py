"""Secrets in log text are redacted before the sample trace and message are stored."""

from pathlib import Path

from selfheal.compose.store import build_ingest_service, build_local_store
from selfheal.settings import load_settings

LOG = """\
2026-11-29 10:00:00 ERROR request failed
Traceback (most recent call last):
  File "/var/task/app/handler.py", line 12, in handle
    client.connect(url)
ValueError: cannot reach postgres://admin:hunter2hunter2@db.internal:5432/orders as ops@example.com
"""


def test_sample_trace_and_message_are_redacted(tmp_path: Path) -> None:
    settings = load_settings({"home": tmp_path / "home", "redact_patterns": [r"db\.internal"]}, env={})
    store = build_local_store(settings)
    report = build_ingest_service(settings, store).ingest_lines(LOG.splitlines(True), "app.log")
    assert len(report.new) == 1
    record = store.get(report.new[0])
    assert record is not None
    stored = record.sample_trace + record.message
    for secret in ("hunter2hunter2", "ops@example.com", "db.internal"):
        assert secret not in stored
    assert "[REDACTED" in record.sample_trace and "ValueError" in record.sample_trace
