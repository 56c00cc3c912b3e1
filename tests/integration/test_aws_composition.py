"""The AWS composition root: each step Lambda builds only what its catalogue entry uses, so a
missing token (or SSM parameters) breaks only the states that need them, and RecordFailure still
records the failure with the store alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from selfheal.adapters.dynamodb_store import DynamoDBErrorStore, create_table
from selfheal.adapters.secrets_ssm import SsmSecrets
from selfheal.compose import aws
from selfheal.domain.records import Status
from selfheal.errors import ConfigurationError
from selfheal.names import ENV_ARTIFACT_BUCKET, ENV_PARAMETER_PREFIX, ENV_TABLE_NAME
from selfheal.services.workflow.catalogue import STATES, state
from tests.support.workflow_fakes import seed_error

ENV = {ENV_TABLE_NAME: "errors", ENV_ARTIFACT_BUCKET: "artifacts", ENV_PARAMETER_PREFIX: "/selfheal",
       "SELFHEAL_MODEL": "bedrock:m", "AWS_REGION": "us-east-1", "SELFHEAL_HOME": "/tmp/selfheal-test"}


@pytest.fixture
def bare_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The table and the bucket, and no SSM parameter at all (as with a forgotten bin/configure);
    yields the names of the SSM parameters read."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    read: list[str] = []
    original = SsmSecrets.get

    def get(self: SsmSecrets, name: str) -> str | None:
        read.append(name)
        return original(self, name)

    monkeypatch.setattr(SsmSecrets, "get", get)
    with mock_aws():
        create_table("errors", boto3.client("dynamodb", region_name="us-east-1"))
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="artifacts")
        yield read
    aws.configure(steps=None)


@pytest.mark.parametrize("entry", STATES, ids=lambda s: s.name)
def test_a_step_builds_only_what_its_catalogue_entry_uses(bare_aws: list[str], entry: Any) -> None:
    if entry.needs_token:
        with pytest.raises(ConfigurationError):  # no repository configured: only these fail
            aws.build_step(entry.name, ENV)
        return
    services = aws.build_step(entry.name, ENV)
    assert bool(bare_aws) == ("parameters" in entry.uses)
    assert "github_token" not in bare_aws and "ssh_private_key" not in bare_aws
    for withheld, used in ((services.code_host, "code_host"), (services.source, "source"),
                           (services.model, "model")):
        if used not in entry.uses:
            with pytest.raises(ConfigurationError, match=f"{entry.name} is built without"):
                withheld.find_pull_request  # noqa: B018 - touching it is the test


def test_record_failure_needs_only_the_store(bare_aws: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11's stuck FIXING: with no token anywhere, the failure is still recorded."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    aws.configure(steps=None)
    store = DynamoDBErrorStore("errors")
    fp = seed_error(store)
    store.transition(fp, Status.FIXING, reason="test")
    attempt = store.start_attempt(fp, f"{fp[:12]}-1").number
    handler = aws.state_handler(state("RecordFailure").name)
    handler({"fingerprint": fp, "attempt": attempt,
             "failure": {"Error": "ConfigurationError", "Cause": "secret 'github_token' is not set"}}, None)
    record = store.get(fp)
    assert record is not None and record.status == Status.FAILED
    assert record.attempts[-1].error == "ConfigurationError"
    assert bare_aws == []  # no SSM read at all
