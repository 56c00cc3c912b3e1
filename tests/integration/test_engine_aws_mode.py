"""AWS mode of the step handlers: services built from the environment the SAM template sets
(DynamoDB table, S3 artifacts bucket) and the SSM parameters bin/configure stores (the
repository), run by the same ASL in moto."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from selfheal.adapters.dynamodb_store import DynamoDBErrorStore, create_table
from selfheal.adapters.sfn_local import LocalWorkflowEngine
from selfheal.compose import aws
from selfheal.domain.capture import make_input
from selfheal.domain.records import FrameRef, Observation, Status
from selfheal.services.workflow.runner import run_execution
from tests.e2e.test_fix_cli import HANDLER, TESTS
from tests.support.git_repos import git, make_bare_repo
from tests.support.workflow_fakes import real_handlers

pytestmark = pytest.mark.timeout(300)


def test_handlers_build_aws_services_from_env_and_fix_to_a_pushed_branch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    origin = make_bare_repo(tmp_path / "origin.git", files={
        "app/__init__.py": "", "app/handler.py": HANDLER.replace("orders", "app"),
        "tests/test_handler.py": TESTS.replace("orders", "app")})
    for name, value in {"SELFHEAL_TABLE_NAME": "errors", "SELFHEAL_ARTIFACT_BUCKET": "artifacts",
                        "SELFHEAL_PARAMETER_PREFIX": "/selfheal-test/", "SELFHEAL_MODEL": "rules",
                        "SELFHEAL_HOME": str(tmp_path / "lambda-tmp")}.items():
        monkeypatch.setenv(name, value)
    aws.configure(steps=None)  # the step handlers build their services from the environment
    with mock_aws():
        create_table("errors")
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="artifacts")
        # what bin/configure stores: the repository (here a file:// remote) and the base branch
        ssm = boto3.client("ssm", region_name="us-east-1")
        for key, value in (("repository_url", f"file://{origin}"), ("base_branch", "main")):
            ssm.put_parameter(Name=f"/selfheal-test/{key}", Value=value, Type="SecureString")
        store = DynamoDBErrorStore("errors")
        fp = "abcdef0123456789" * 2
        store.observe(_obs(fp))
        # the event ingest captured with the crash, kept on the error's item: FetchSource reads it
        # from the table and the fix is verified by replaying it (verified or no PR, issue #14)
        store.add_inputs(fp, [make_input({"customer": "c-7"}, "powertools", "rid-1")], keep=3)
        with LocalWorkflowEngine(real_handlers(), retry_scale=0.001) as engine:
            out = run_execution(store, engine, fp, timeout=240)
        record = store.get(fp)
        # the operator's view of the same history, from the table
        from click.testing import CliRunner

        from selfheal.cli.executions import executions
        listed = CliRunner().invoke(executions, ["--table", "errors", "--json"])
        shown = CliRunner().invoke(executions, ["show", out.execution_name, "--table", "errors", "--json"])
    assert out.status == Status.PR_OPEN, out.reasons
    assert listed.exit_code == 0, listed.output
    assert [e["outcome"] for e in json.loads(listed.output)] == ["pr_open"]
    assert json.loads(shown.output)["path"][-1]["state"] == "MarkDone"
    assert record is not None and record.branch == f"selfheal/{fp[:12]}"
    steps = record.attempts[-1].steps
    assert steps[0].artifacts["context"].startswith("s3://artifacts/")
    # the fix branch was pushed back to the remote
    assert git(origin, "rev-parse", "--verify", f"refs/heads/selfheal/{fp[:12]}")


def _obs(fp: str) -> Observation:
    trace = ('Traceback (most recent call last):\n  File "/var/task/app/handler.py", line 5, in total\n'
             '    items = event["order_items"]\nKeyError: \'order_items\'\n')
    return Observation(fingerprint=fp, exc_type="KeyError", message="'order_items'", sample_trace=trace,
                       frames=[FrameRef(file="app/handler.py", function="total", line=5,
                                        source='items = event["order_items"]')])
