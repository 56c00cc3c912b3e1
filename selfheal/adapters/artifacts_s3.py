"""``ArtifactStore`` on an S3 bucket (AWS mode). References are ``s3://bucket/key``."""

from __future__ import annotations

from typing import Any

from selfheal import known_secrets
from selfheal.errors import ArtifactNotFound, MalformedInput, StoreUnavailable


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
        return f"s3://{self.bucket}/{full}"

    def get_bytes(self, ref: str) -> bytes:
        if not ref.startswith("s3://"):
            raise MalformedInput(f"not an s3:// artifact reference: {ref!r}")
        bucket, _, key = ref[5:].partition("/")
        try:
            body: bytes = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            raise _map(exc, ref) from exc
        return body


def _map(exc: Exception, where: str) -> Exception:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    if code in ("NoSuchKey", "404", "NoSuchBucket"):
        return ArtifactNotFound(f"no artifact at {where}")
    if code in ("SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout") or not code:
        return StoreUnavailable(f"S3 failed for {where}: {exc}")
    return exc
