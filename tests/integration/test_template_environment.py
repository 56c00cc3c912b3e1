"""The environment template.yaml gives the step functions, plus the parameters bin/configure
writes, is enough for the AWS composition to build the real services (moto for AWS)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support.deploy_sam import load_template, translate

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
PHYSICAL = {"ErrorsTable": "selfheal-errors", "ArtifactsBucket": "selfheal-artifacts",
            "ParameterPrefix": "/selfheal", "MaxAttempts": "3", "LogLevel": "INFO", "ModelId": MODEL,
            "FixQueue": "https://sqs.us-east-1.amazonaws.com/123456789012/fix",
            "FixStateMachine": "arn:aws:states:us-east-1:123456789012:stateMachine:fix"}


def resolve(value: Any) -> str:
    """The few intrinsic functions the template's environment uses, with PHYSICAL names."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return PHYSICAL[value["Ref"]]
    text = value["Fn::Sub"]
    for name, physical in PHYSICAL.items():
        text = text.replace("${" + name + "}", physical)
    assert "${" not in text, text
    return str(text)


def function_env(cfn: dict[str, Any], logical: str) -> dict[str, str]:
    variables = cfn["Resources"][logical]["Properties"]["Environment"]["Variables"]
    return {k: resolve(v) for k, v in variables.items()} | {"AWS_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translate(load_template())


@pytest.mark.parametrize("state", ["FetchSource", "InvokeModel", "CommitBranch", "OpenPullRequest"])
def test_step_functions_build_their_services_from_the_template_env(cfn: dict[str, Any], state: str) -> None:
    from selfheal.adapters.dynamodb_store import create_table
    from selfheal.compose.aws import build_step
    from selfheal.services.workflow.catalogue import state as catalogue_state

    entry = catalogue_state(state)
    env = function_env(cfn, entry.function_logical_id)
    with mock_aws():
        create_table(PHYSICAL["ErrorsTable"], client=boto3.client("dynamodb", region_name="us-east-1"))
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=PHYSICAL["ArtifactsBucket"])
        key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
        ssm = boto3.client("ssm", region_name="us-east-1")
        for name, value in {"repository_url": "https://github.com/acme/orders", "code_host": "github",
                            "github_token": "ghp_" + "x" * 36, "base_branch": "main"}.items():
            ssm.put_parameter(Name=f"/selfheal/{name}", Value=value, Type="SecureString", KeyId=key)
        services = build_step(state, env)
    assert services.settings.repo_url == "github:acme/orders"  # from SSM
    assert services.settings.base_branch == "main"
    assert services.settings.model == f"bedrock:{MODEL}"  # from the template's ModelId
    assert services.settings.max_attempts == 3
    assert str(services.settings.home) == "/tmp/selfheal"  # Lambda's writable place
    if "model" in entry.uses:
        assert type(services.model).__name__ == "BedrockModel"
    if "code_host" in entry.uses:
        assert type(services.code_host).__name__ == "GitHubHost"
    assert type(services.store).__name__ == "DynamoDBErrorStore"
    assert services.store.table_name == PHYSICAL["ErrorsTable"]  # type: ignore[attr-defined]
