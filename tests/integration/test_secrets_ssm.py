"""SsmSecrets under moto: SecureString with a KMS key, decryption, prefix, caching, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from selfheal.adapters.secrets_ssm import SsmSecrets
from selfheal.errors import ConfigurationError, StoreUnavailable

KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nline2\n"
       "-----END OPENSSH PRIVATE KEY-----\n")


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        kms = boto3.client("kms", region_name="us-east-1")
        key_id = kms.create_key(Description="selfheal")["KeyMetadata"]["KeyId"]
        client = boto3.client("ssm", region_name="us-east-1")
        client.put_parameter(Name="/selfheal/ssh_private_key", Value=KEY, Type="SecureString", KeyId=key_id)
        client.put_parameter(Name="/selfheal/github_token", Value="ghp_test", Type="SecureString")
        client.put_parameter(Name="/other/token", Value="o", Type="SecureString")
        yield client


def test_reads_decrypted_secure_strings(ssm: Any) -> None:
    secrets = SsmSecrets(client=ssm)
    assert secrets.get("ssh_private_key") == KEY          # multi-line key survives
    assert secrets.get("github_token") == "ghp_test"
    assert secrets.get("missing") is None
    assert secrets.get("/other/token") == "o"              # absolute names bypass the prefix
    assert SsmSecrets(prefix="/other", client=ssm).get("token") == "o"


def test_values_are_cached(ssm: Any) -> None:
    secrets = SsmSecrets(client=ssm)
    assert secrets.get("github_token") == "ghp_test"
    ssm.put_parameter(Name="/selfheal/github_token", Value="rotated", Type="SecureString", Overwrite=True)
    assert secrets.get("github_token") == "ghp_test"
    assert SsmSecrets(client=ssm).get("github_token") == "rotated"


def test_errors_are_classified() -> None:
    client = boto3.client("ssm", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_parameter", "ThrottlingException")
        stub.add_client_error("get_parameter", "AccessDeniedException")
        with pytest.raises(StoreUnavailable):
            SsmSecrets(client=client).get("a")
        with pytest.raises(ConfigurationError, match="AccessDenied"):
            SsmSecrets(client=client).get("b")
    with pytest.raises(ConfigurationError):
        SsmSecrets(prefix="relative/")
