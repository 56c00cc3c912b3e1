"""bin/configure against a moto server (``--endpoint-url``): SecureStrings under the prefix with
the stack's KMS key, masked re-runs that change only what is answered, flags, and bad input."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.deploy_moto import client, moto_url, run_script

__all__ = ["moto_url"]  # the shared module-scoped moto server fixture

PREFIX = "/selfheal-test"
TOKEN = "github_pat_11AAAAAAA0example0token0value0WXYZ"
SSH_KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\n"
           "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
           "QyNTUxOQAAACDm0Yb0example0only0not0a0real0keyAAAAAAAAAAAAAAAAAAAAAAAA==\n"
           "-----END OPENSSH PRIVATE KEY-----\n")
HOST_KEY = "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


@pytest.fixture
def key_id(moto_url: str) -> str:
    arn: str = client(moto_url, "kms").create_key(Description="selfheal test key")["KeyMetadata"]["Arn"]
    return arn


@pytest.fixture
def prefix(moto_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"{PREFIX}/{request.node.name.replace('[', '-').rstrip(']')}"
    yield name
    ssm = client(moto_url, "ssm")
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=name):
        for p in page["Parameters"]:
            ssm.delete_parameter(Name=p["Name"])


def run(moto_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run_script("configure", moto_url, *args, stdin=stdin)


def stored(moto_url: str, prefix: str) -> dict[str, dict[str, Any]]:
    ssm = client(moto_url, "ssm")
    out = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=prefix, WithDecryption=True):
        for p in page["Parameters"]:
            out[p["Name"].rsplit("/", 1)[-1]] = p
    return out


def test_non_interactive_flags_store_secure_strings_with_the_key(moto_url: str, key_id: str, prefix: str,
                                                                 tmp_path: Path) -> None:
    key_file = tmp_path / "id_ed25519"
    key_file.write_text(SSH_KEY)
    result = run(moto_url, "--prefix", prefix, "--kms-key-id", key_id, "--non-interactive",
                 "--repository-url", "git@git.example.com:acme/orders.git", "--code-host", "ssh",
                 "--ssh-key-file", str(key_file), "--host-key", HOST_KEY,
                 "--log-group", "/aws/lambda/orders",
                 "--model-id", "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert result.returncode == 0, result.stderr
    params = stored(moto_url, prefix)
    assert set(params) == {"repository_url", "code_host", "ssh_private_key", "ssh_known_hosts", "log_group",
                           "model_id"}
    assert all(p["Type"] == "SecureString" for p in params.values())
    assert params["ssh_private_key"]["Value"] == SSH_KEY  # multi-line key survives byte for byte
    assert params["ssh_known_hosts"]["Value"] == HOST_KEY
    described = client(moto_url, "ssm").describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [f"{prefix}/ssh_private_key"]}])["Parameters"][0]
    assert described["KeyId"] == key_id
    assert "still missing" not in result.stdout


def test_rerun_shows_masked_values_and_changes_only_answers(moto_url: str, key_id: str, prefix: str) -> None:
    first = run(moto_url, "--prefix", prefix, "--kms-key-id", key_id, "--non-interactive",
                "--repository-url", "https://github.com/acme/orders", "--code-host", "github",
                "--github-token", TOKEN, "--log-group", "/aws/lambda/orders")
    assert first.returncode == 0, first.stderr
    versions = {n: p["Version"] for n, p in stored(moto_url, prefix).items()}
    # Interactive (stdin answers): keep URL, host and token, clear nothing, change the log group.
    # Questions for github: repository_url, code_host, github_token, github_api_url, base_branch,
    # log_group, model_id.
    answers = "\n\n\n\n\n/aws/lambda/orders-v2\n\n"
    second = run(moto_url, "--prefix", prefix, "--kms-key-id", key_id, stdin=answers)
    assert second.returncode == 0, second.stderr
    assert "[https://github.com/acme/orders]" in second.stdout
    assert TOKEN not in second.stdout and TOKEN not in second.stderr
    assert "********" + TOKEN[-4:] in second.stdout
    assert "SSH private key" not in second.stdout  # github host: SSH questions are skipped
    assert "set log_group" in second.stdout
    after = stored(moto_url, prefix)
    assert after["log_group"]["Value"] == "/aws/lambda/orders-v2"
    assert after["github_token"]["Value"] == TOKEN
    unchanged = {n for n in versions if n != "log_group"}
    assert {n: after[n]["Version"] for n in unchanged} == {n: versions[n] for n in unchanged}
    assert after["log_group"]["Version"] == versions["log_group"] + 1


def test_dash_deletes_and_bad_answers_are_asked_again(moto_url: str, key_id: str, prefix: str) -> None:
    assert run(moto_url, "--prefix", prefix, "--kms-key-id", key_id, "--non-interactive",
               "--code-host", "github", "--github-token", TOKEN, "--model-id", "m1").returncode == 0
    # repository_url: a bad URL, then a good one; code_host keep; token keep; api url keep;
    # base branch keep; log group keep; model id deleted.
    answers = "not a url\nhttps://github.com/acme/orders\n\n\n\n\n\n-\n"
    result = run(moto_url, "--prefix", prefix, "--kms-key-id", key_id, stdin=answers)
    assert result.returncode == 0, result.stderr
    assert "repository URL 'not a url'" in result.stdout and "try again" in result.stdout
    after = stored(moto_url, prefix)
    assert after["repository_url"]["Value"] == "https://github.com/acme/orders"
    assert "model_id" not in after
    assert "deleted model_id" in result.stdout


def test_bad_flag_value_changes_nothing(moto_url: str, key_id: str, prefix: str, tmp_path: Path) -> None:
    bad_key = tmp_path / "not_a_key"
    bad_key.write_text("hello\n")
    result = run(moto_url, "--prefix", prefix, "--kms-key-id", key_id, "--non-interactive",
                 "--log-group", "/aws/lambda/orders", "--ssh-key-file", str(bad_key))
    assert result.returncode == 1
    assert result.stderr.startswith("error: the SSH private key must be")
    assert "Traceback" not in result.stderr
    assert stored(moto_url, prefix) == {}
    bad_host = run(moto_url, "--prefix", prefix, "--kms-key-id", key_id, "--non-interactive",
                   "--host-key", "github.com AAAA")
    assert bad_host.returncode == 1 and "host key line" in bad_host.stderr


def test_key_and_prefix_come_from_the_stack_outputs(moto_url: str, prefix: str) -> None:
    template = {"Resources": {"SelfhealKey": {"Type": "AWS::KMS::Key", "Properties": {
        "KeyPolicy": {"Version": "2012-10-17", "Statement": []}}}},
        "Outputs": {"KmsKeyArn": {"Value": {"Fn::GetAtt": ["SelfhealKey", "Arn"]}},
                    "ParameterPrefix": {"Value": prefix}}}
    cf = client(moto_url, "cloudformation")
    cf.create_stack(StackName="selfheal-configure-test", TemplateBody=json.dumps(template))
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cf.describe_stacks(StackName="selfheal-configure-test")["Stacks"][0]["Outputs"]}
    result = run(moto_url, "--stack-name", "selfheal-configure-test", "--non-interactive",
                 "--log-group", "/aws/lambda/orders")
    assert result.returncode == 0, result.stderr
    assert "still missing for a working setup: repository_url, code_host" in result.stdout
    described = client(moto_url, "ssm").describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [f"{prefix}/log_group"]}])["Parameters"][0]
    assert described["KeyId"] == outputs["KmsKeyArn"]
    shown = run(moto_url, "--stack-name", "selfheal-configure-test", "--show")
    assert shown.returncode == 0 and "/aws/lambda/orders" in shown.stdout
    assert "github_token     (not set)" in shown.stdout


def test_missing_stack_is_one_clear_line(moto_url: str) -> None:
    result = run(moto_url, "--stack-name", "no-such-stack", "--show")
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot read stack 'no-such-stack'")
    assert "sam deploy --guided" in result.stderr


def test_log_group_is_subscribed_to_the_ingest_function(moto_url: str, prefix: str) -> None:
    pattern = '?"Traceback (most recent call last)" ?"stackTrace" ?"Error:"'
    template = {
        "Parameters": {"LogGroupName": {"Type": "String", "Default": "/aws/lambda/orders-main"},
                       "TracebackFilterPattern": {"Type": "String", "Default": pattern}},
        "Resources": {
            "SelfhealKey": {"Type": "AWS::KMS::Key", "Properties": {
                "KeyPolicy": {"Version": "2012-10-17", "Statement": []}}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "lambda.amazonaws.com"}}]}}},
            "IngestFunction": {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "def handler(event, context):\n    return None\n"}}}},
        "Outputs": {"KmsKeyArn": {"Value": {"Fn::GetAtt": ["SelfhealKey", "Arn"]}},
                    "ParameterPrefix": {"Value": prefix},
                    "IngestFunctionArn": {"Value": {"Fn::GetAtt": ["IngestFunction", "Arn"]}}}}
    cf, logs = client(moto_url, "cloudformation"), client(moto_url, "logs")
    cf.create_stack(StackName="selfheal-subscribe", TemplateBody=json.dumps(template),
                    Capabilities=["CAPABILITY_IAM"])
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cf.describe_stacks(StackName="selfheal-subscribe")["Stacks"][0]["Outputs"]}
    for group in ("/aws/lambda/orders", "/aws/lambda/orders-v2", "/aws/lambda/orders-main"):
        logs.create_log_group(logGroupName=group)

    def filters(group: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = logs.describe_subscription_filters(
            logGroupName=group)["subscriptionFilters"]
        return found

    first = run(moto_url, "--stack-name", "selfheal-subscribe", "--non-interactive",
                "--log-group", "/aws/lambda/orders")
    assert first.returncode == 0, first.stderr
    assert "subscribed /aws/lambda/orders to" in first.stdout
    [sub] = filters("/aws/lambda/orders")
    assert sub["filterName"] == "selfheal-subscribe-python-tracebacks"
    assert sub["destinationArn"] == outputs["IngestFunctionArn"]
    assert sub["filterPattern"] == pattern
    lam = client(moto_url, "lambda")
    policy = json.loads(lam.get_policy(FunctionName=outputs["IngestFunctionArn"])["Policy"])
    assert any(s["Principal"] == {"Service": "logs.amazonaws.com"} and "/aws/lambda/orders:" in
               json.dumps(s["Condition"]) for s in policy["Statement"])

    moved = run(moto_url, "--stack-name", "selfheal-subscribe", "--non-interactive",
                "--log-group", "/aws/lambda/orders-v2")
    assert moved.returncode == 0, moved.stderr
    assert "unsubscribed /aws/lambda/orders" in moved.stdout
    assert filters("/aws/lambda/orders") == []
    assert [f["filterName"] for f in filters("/aws/lambda/orders-v2")] == [
        "selfheal-subscribe-python-tracebacks"]

    managed = run(moto_url, "--stack-name", "selfheal-subscribe", "--non-interactive",
                  "--log-group", "/aws/lambda/orders-main")
    assert managed.returncode == 0, managed.stderr
    assert "subscribed by the stack itself" in managed.stdout
    assert filters("/aws/lambda/orders-main") == []  # the stack's own filter would be the only one
    assert filters("/aws/lambda/orders-v2") == []
