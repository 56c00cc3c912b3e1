"""Composition of ``selfheal redrive --table``: the AWS re-drive request (the error back to
QUEUED, optionally resuming at a state whose recorded input is in the artifacts bucket)."""

from __future__ import annotations

from selfheal.domain.records import ErrorRecord


def request_aws_redrive(table: str, fingerprint: str, from_state: str | None = None,
                        bucket: str | None = None) -> ErrorRecord:
    """Queue a re-drive of the error ``fingerprint`` names (any unique prefix) in ``table``."""
    from selfheal.adapters.artifacts_s3 import S3ArtifactStore
    from selfheal.compose.store import build_dynamodb_store
    from selfheal.services.lookup import resolve_fingerprint
    from selfheal.services.workflow.runner import request_redrive

    store = build_dynamodb_store(table)
    artifacts = S3ArtifactStore(bucket) if bucket else None
    return request_redrive(store, resolve_fingerprint(store, fingerprint), from_state, artifacts)
