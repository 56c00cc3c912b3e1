"""Helpers for the error-tracking tests: observations and the two ErrorStore adapters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from selfheal.domain.records import FrameRef, Observation

TABLE = "selfheal-errors"


def obs(fp: str, count: int = 1, *, exc_type: str = "KeyError", message: str = "'user'",
        seen_at: datetime | None = None, source: str = "app.log",
        path: str = "app/handlers.py") -> Observation:
    """An observation of error ``fp`` with one in-app frame."""
    extra: dict[str, Any] = {} if seen_at is None else {"seen_at": seen_at}
    return Observation(fingerprint=fp, exc_type=exc_type, message=message, count=count,
                       frames=[FrameRef(file=path, function="handle", line=10, source="x = d['user']")],
                       sample_trace=f"Traceback (most recent call last):\n{exc_type}: {message}",
                       source=source, full_hash="f" * 64, **extra)


@contextmanager
def sqlite_store(tmp_path: Path) -> Iterator[Any]:
    from selfheal.adapters.sqlite_store import SqliteErrorStore

    store = SqliteErrorStore(tmp_path / "errors.db")
    try:
        yield store
    finally:
        store.close()


@contextmanager
def dynamodb_store() -> Iterator[Any]:
    """A DynamoDB store on a fresh table under moto (the caller's process-wide mock)."""
    import boto3
    from moto import mock_aws

    from selfheal.adapters.dynamodb_store import DynamoDBErrorStore, create_table

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(TABLE, client)
        yield DynamoDBErrorStore(TABLE, client=client)


@contextmanager
def atomic_moto_requests() -> Iterator[None]:
    """Make moto handle one request at a time, as DynamoDB applies each request atomically.

    moto 5.2.5's in-memory DynamoDB backend is not thread-safe: two concurrent ``UpdateItem``
    ``ADD``s can lose one (seen: 87 of 96). Real DynamoDB applies every request to an item
    atomically; this lock restores that guarantee and nothing more. Client threads still
    interleave freely *between* requests, so a read-then-write in our code would still lose
    updates and fail the concurrency tests.
    """
    import threading
    from unittest import mock

    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()
    original = BotocoreStubber.process_request

    def process_request(self: Any, request: Any) -> Any:
        with lock:
            return original(self, request)

    with mock.patch.object(BotocoreStubber, "process_request", process_request):
        yield
