"""Composition for error tracking: the store of each mode, the policy and the ingest service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from selfheal.settings import Settings

if TYPE_CHECKING:
    from selfheal.adapters.dynamodb_store import DynamoDBErrorStore
    from selfheal.adapters.sqlite_store import SqliteErrorStore
    from selfheal.domain.fingerprint import FingerprintConfig
    from selfheal.ports import ErrorStore
    from selfheal.services.ingest import IngestService
    from selfheal.services.policy import Policy

LOCAL_DB_NAME = "errors.db"


def build_local_store(settings: Settings) -> SqliteErrorStore:
    """The local embedded store: ``<home>/errors.db`` (created on first use)."""
    from selfheal.adapters.sqlite_store import SqliteErrorStore

    return SqliteErrorStore(settings.home / LOCAL_DB_NAME)


def build_dynamodb_store(table_name: str, client: Any = None) -> DynamoDBErrorStore:
    """The production store on ``table_name`` (``client=None`` builds a boto3 client lazily)."""
    from selfheal.adapters.dynamodb_store import DynamoDBErrorStore

    return DynamoDBErrorStore(table_name, client=client)


def build_policy(settings: Settings) -> Policy:
    from selfheal.services.policy import Policy

    return Policy.from_settings(settings)


def build_fingerprint_config(settings: Settings) -> FingerprintConfig:
    from selfheal.domain.fingerprint import FingerprintConfig

    return FingerprintConfig(in_app_prefixes=tuple(settings.in_app_prefixes),
                             app_roots=tuple(settings.app_roots))


def build_ingest_service(settings: Settings, store: ErrorStore) -> IngestService:
    from selfheal.domain.capture import DEFAULT_LABELS, CaptureConfig
    from selfheal.ports import InputStore
    from selfheal.services.ingest import IngestService

    capture = CaptureConfig(enabled=settings.capture_inputs,
                            labels=tuple(settings.capture_labels) or DEFAULT_LABELS,
                            max_bytes=settings.capture_max_bytes)
    return IngestService(store, build_policy(settings), build_fingerprint_config(settings),
                         redact_patterns=settings.redact_patterns, capture=capture,
                         inputs=store if isinstance(store, InputStore) else None,
                         keep_inputs=settings.capture_keep)
