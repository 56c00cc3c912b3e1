"""S3 artifacts are tamper-evident: ValidatePatch's role may write objects under ``artifacts/``
(its step records), so a reference carries the digest of what was written and a reader refuses
anything else, e.g. another fix's proposal swapped by model-written code before CommitBranch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from selfheal.adapters.artifacts_s3 import S3ArtifactStore
from selfheal.errors import ArtifactChanged, ArtifactNotFound, MalformedInput


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="artifacts")
        yield client


def test_round_trip_and_a_swapped_object_is_refused(s3: Any) -> None:
    store = S3ArtifactStore("artifacts", client=s3)
    ref = store.put_bytes("fp/attempt-1/round-1/proposal.json", b'{"edits": []}')
    assert ref.startswith("s3://artifacts/artifacts/fp/attempt-1/round-1/proposal.json#sha256=")
    assert store.get_bytes(ref) == b'{"edits": []}'
    # an attacker with PutObject on the prefix overwrites it in place
    s3.put_object(Bucket="artifacts", Key="artifacts/fp/attempt-1/round-1/proposal.json", Body=b"evil")
    with pytest.raises(ArtifactChanged):
        store.get_bytes(ref)


def test_references_without_a_digest_still_read_and_bad_ones_are_named(s3: Any) -> None:
    store = S3ArtifactStore("artifacts", client=s3)
    store.put_bytes("k", b"old")
    assert store.get_bytes("s3://artifacts/artifacts/k") == b"old"  # written by an older version
    with pytest.raises(ArtifactNotFound):
        store.get_bytes("s3://artifacts/artifacts/missing#sha256=00")
    with pytest.raises(MalformedInput):
        store.get_bytes("/tmp/not-s3")
