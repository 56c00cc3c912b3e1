"""Composition for error tracking: the store of each mode, the policy and the ingest service."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfheal.settings import Settings

if TYPE_CHECKING:
    from selfheal.adapters.dynamodb_store import DynamoDBErrorStore
    from selfheal.adapters.file_cursor import CursorFollower, CursorStore
    from selfheal.adapters.sqlite_store import SqliteErrorStore
    from selfheal.domain.fingerprint import FingerprintConfig
    from selfheal.domain.paths import RepoIndex
    from selfheal.ports import ErrorStore
    from selfheal.services.ingest import IngestService
    from selfheal.services.policy import Policy

LOCAL_DB_NAME = "errors.db"


def build_local_store(settings: Settings) -> SqliteErrorStore:
    """The local embedded store: ``<home>/errors.db`` (created on first use)."""
    from selfheal.adapters.sqlite_store import SqliteErrorStore

    return SqliteErrorStore(settings.home / LOCAL_DB_NAME, keep_inputs=settings.capture_keep)


def build_dynamodb_store(table_name: str, client: Any = None) -> DynamoDBErrorStore:
    """The production store on ``table_name`` (``client=None`` builds a boto3 client lazily)."""
    from selfheal.adapters.dynamodb_store import DynamoDBErrorStore

    return DynamoDBErrorStore(table_name, client=client)


def build_policy(settings: Settings) -> Policy:
    from selfheal.services.policy import Policy

    return Policy.from_settings(settings)


# Folders that hold no application source (dependencies, build output, tool state).
_SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "site-packages", "__pycache__",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", "build", "dist", ".selfheal", ".aws-sam", ".eggs"})
_MAX_REPO_FILES = 200_000


def repo_index(repo: Path | None) -> RepoIndex | None:
    """The Python files of a local repository checkout (None when ``repo`` is not a folder)."""
    import os

    from selfheal.domain.paths import RepoIndex

    if repo is None or not Path(repo).is_dir():
        return None
    root = Path(repo)
    files: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        rel = Path(folder).relative_to(root)
        files.extend((rel / n).as_posix() for n in sorted(names) if n.endswith(".py"))
        if len(files) >= _MAX_REPO_FILES:
            break
    return RepoIndex(tuple(files))


def build_fingerprint_config(settings: Settings) -> FingerprintConfig:
    """In-app prefixes, extra roots and, with a local ``repo``, its files (repository-relative paths)."""
    from selfheal.domain.fingerprint import FingerprintConfig

    return FingerprintConfig(in_app_prefixes=tuple(settings.in_app_prefixes),
                             app_roots=tuple(settings.app_roots), repo=repo_index(settings.repo))


def build_ingest_service(settings: Settings, store: ErrorStore) -> IngestService:
    """The ingest service on ``store``; on DynamoDB with the delivery ledger in the same table
    (a retried or duplicated CloudWatch delivery is counted once); capturing failing inputs into
    the store (``selfheal.domain.capture``) unless ``settings.capture_inputs`` is off."""
    from selfheal.adapters.delivery_ledger import DynamoDBDeliveryLedger
    from selfheal.adapters.dynamodb_store import DynamoDBErrorStore
    from selfheal.domain.capture import DEFAULT_LABELS, CaptureConfig
    from selfheal.ports import InputStore
    from selfheal.services.ingest import IngestService

    ledger = DynamoDBDeliveryLedger.for_store(store) if isinstance(store, DynamoDBErrorStore) else None
    capture = CaptureConfig(enabled=settings.capture_inputs,
                            labels=tuple(settings.capture_labels) or DEFAULT_LABELS,
                            max_bytes=settings.capture_max_bytes)
    return IngestService(store, build_policy(settings), build_fingerprint_config(settings),
                         redact_patterns=settings.redact_patterns, ledger=ledger, capture=capture,
                         inputs=store if isinstance(store, InputStore) else None,
                         keep_inputs=settings.capture_keep)


def build_cursor_store(settings: Settings) -> CursorStore:
    """Read positions of local log files: ``<home>/cursors.db``."""
    from selfheal.adapters.file_cursor import CURSOR_DB_NAME, CursorStore

    return CursorStore(settings.home / CURSOR_DB_NAME)


def build_log_follower(settings: Settings, log: Path, from_start: bool = False) -> CursorFollower:
    """``watch``'s follower of ``log`` on the cursor ``ingest`` shares (a position saved by an
    older ``watch`` in ``<home>/watch/`` is taken over once)."""
    from selfheal.adapters.file_cursor import CursorFollower
    from selfheal.services.workflow.watch import LogFollower, state_file_for

    legacy = LogFollower(log, state_file_for(settings.home, log)).offset or None
    return CursorFollower(log, build_cursor_store(settings), from_start=from_start, legacy_offset=legacy)
