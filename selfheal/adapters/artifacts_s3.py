"""``ArtifactStore`` on an S3 bucket (AWS mode). References are ``s3://bucket/key#sha256=<hex>``.

The digest makes an artifact tamper-evident: ``get_bytes`` refuses content that differs from what
was written (``ArtifactChanged``). The workflow passes references in its payload, which no step
Lambda can change for another execution, so a function that may write objects (ValidatePatch,
which runs model-written code) cannot swap another fix's proposal before CommitBranch reads it.
A reference without a digest (written by an older version) is read unchecked.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from selfheal import known_secrets
from selfheal.errors import ArtifactChanged, ArtifactNotFound, MalformedInput, StoreUnavailable

DIGEST = "#sha256="


class S3ArtifactStore:
    """Blobs in ``bucket`` under ``prefix``; encryption is the bucket's default (KMS)."""

    def __init__(self, bucket: str, prefix: str = "artifacts/", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def put_bytes(self, key: str, data: bytes) -> str:
        data = known_secrets.scrub_bytes(data)  # nothing stored carries a secret this process holds
        full = f"{self.prefix}{key}"
        try:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data)
        except Exception as exc:
            raise _map(exc, full) from exc
        return f"s3://{self.bucket}/{full}{DIGEST}{hashlib.sha256(data).hexdigest()}"

    def reference(self, key: str, data: bytes) -> str:
        """The reference ``put_bytes(key, data)`` returns (its digest included), nothing stored."""
        data = known_secrets.scrub_bytes(data)
        return f"s3://{self.bucket}/{self.prefix}{key}{DIGEST}{hashlib.sha256(data).hexdigest()}"

    def get_bytes(self, ref: str) -> bytes:
        if not ref.startswith("s3://"):
            raise MalformedInput(f"not an s3:// artifact reference: {ref!r}")
        location, _, digest = ref.partition(DIGEST)
        bucket, _, key = location[5:].partition("/")
        try:
            body: bytes = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            raise _map(exc, location) from exc
        if digest and not hmac.compare_digest(hashlib.sha256(body).hexdigest(), digest):
            raise ArtifactChanged(f"artifact {location} changed after it was written")
        return body


def _map(exc: Exception, where: str) -> Exception:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    if code in ("NoSuchKey", "404", "NoSuchBucket"):
        return ArtifactNotFound(f"no artifact at {where}")
    if code in ("SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout") or not code:
        return StoreUnavailable(f"S3 failed for {where}: {exc}")
    return exc
