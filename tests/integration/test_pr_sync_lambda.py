"""The scheduled sync Lambda on moto with the fake GitHub, composed from the environment and the
SSM parameters bin/configure stores: merged fix PR -> RESOLVED; the error logged again ->
REGRESSED -> the table's stream -> dispatch -> one "regressed" fix request on SQS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from functions import dispatch, sync_prs
from selfheal.adapters.dynamodb_store import DynamoDBErrorStore
from selfheal.adapters.github import GitHubHost, make_client
from selfheal.compose import aws as aws_root
from selfheal.compose.aws import DispatchDeps
from selfheal.domain.records import Status
from selfheal.errors import ConfigurationError
from selfheal.services.ingest import IngestService
from selfheal.services.policy import Policy
from selfheal.services.publish import publish_fix
from tests.support.fake_github import FakeGitHub
from tests.support.git_repos import make_bare_repo
from tests.support.pr_sync_cases import FIXED, TRACE
from tests.support.tracking_aws import REGION, LambdaContext, TrackingAws, stream_event, tracking_aws
from tests.support.tracking_stores import TABLE

PREFIX = "/selfheal-sync-test/"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[TrackingAws]:
    monkeypatch.setenv("SELFHEAL_TABLE_NAME", TABLE)
    monkeypatch.setenv("SELFHEAL_PARAMETER_PREFIX", PREFIX)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path / "lambda-tmp"))
    with tracking_aws() as a:
        aws_root.configure(dispatch=DispatchDeps(Policy(), a.sqs, a.queue_url))
        aws_root.configure(sync=None)
        yield a
    aws_root.configure(dispatch=None)
    aws_root.configure(sync=None)


def _configure_github(gh: FakeGitHub) -> None:
    """What ``bin/configure`` stores for a GitHub repository."""
    ssm = boto3.client("ssm", region_name=REGION)
    for key, value in (("repository_url", "github:acme/svc"), ("code_host", "github"),
                       ("github_api_url", gh.base_url), ("github_token", "test-token"),
                       ("base_branch", "main")):
        ssm.put_parameter(Name=f"{PREFIX}{key}", Value=value, Type="SecureString")


def test_merged_pr_resolves_and_the_regression_is_queued(aws: TrackingAws, tmp_path: Path) -> None:
    store = DynamoDBErrorStore(TABLE, client=aws.ddb)
    from selfheal.compose.store import build_fingerprint_config
    from selfheal.settings import load_settings

    ingest = IngestService(store, Policy(), build_fingerprint_config(load_settings(env={})))
    (fp,) = ingest.ingest_lines(TRACE.splitlines(), "/aws/lambda/svc").new
    with FakeGitHub(make_bare_repo(tmp_path / "remote.git")).serve() as gh:
        _configure_github(gh)
        host = GitHubHost("acme/svc", client=make_client("test-token", gh.base_url, throttle=False))
        store.transition(fp, Status.FIXING)
        pr = publish_fix(host, fingerprint=fp, base_branch="main", base_revision=host.resolve(),
                         files={"app.py": FIXED}, title="fix", body="body")
        store.transition(fp, Status.PR_OPEN, fields={"branch": pr.branch, "pr_url": pr.url})
        aws.stream.poll()  # the fix's own changes start nothing

        still = sync_prs.handler({}, LambdaContext())
        assert still["checked"] == 1 and still["still_open"] == [fp]
        gh.close_pull(pr.number or 0, merged=True)
        report = sync_prs.handler({}, LambdaContext())
    assert report["resolved"] == [fp] and report["problems"] == []
    rec = store.get(fp)
    assert rec is not None and rec.status == Status.RESOLVED
    assert rec.status_reason == f"fix PR merged: {pr.url}"
    assert dispatch.handler(stream_event(aws.stream.poll()), LambdaContext()) == {"batchItemFailures": []}
    assert aws.receive_all() == []  # resolving starts nothing

    again = ingest.ingest_lines(TRACE.splitlines(), "/aws/lambda/svc")
    assert again.regressed == [fp]
    dispatch.handler(stream_event(aws.stream.poll()), LambdaContext())
    bodies = [json.loads(m["Body"]) for m in aws.receive_all()]
    assert bodies == [{"fingerprint": fp, "reason": "regressed"}]
    rec = store.get(fp)
    assert rec is not None and rec.status == Status.REGRESSED and rec.previous_pr_url == pr.url


def test_missing_table_setting_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SELFHEAL_TABLE_NAME", raising=False)
    with pytest.raises(ConfigurationError, match="SELFHEAL_TABLE_NAME"):
        aws_root.build_pr_sync({})
