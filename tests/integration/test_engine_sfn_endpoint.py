"""``--engine sfn``: fix and re-drive through the AWS engine adapter pointed at
``SELFHEAL_SFN_ENDPOINT_URL``, exercised against a fake Step Functions endpoint (moto's server on
127.0.0.1, whose Lambda invocations reach the real step handlers), continuations included."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto.core.config import default_user_config

from selfheal.adapters import moto_lambda_hook
from selfheal.adapters.sfn_local import DEFAULT_ASL, FUNCTION_PREFIX, function_arn, substitute
from selfheal.compose.sfn_endpoint import ENDPOINT_ENV, run_on_endpoint
from selfheal.domain.records import Status
from selfheal.errors import CodeHostForbidden, ConfigurationError
from selfheal.services.workflow.catalogue import STATES
from selfheal.services.workflow.flow import QUEUE_URL_SUBSTITUTION
from selfheal.settings import Settings
from tests.support.workflow_fakes import (
    GOOD_REPLY,
    MemoryCodeHost,
    ScriptedModel,
    make_services,
    real_handlers,
    seed_error,
)


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    monkeypatch.setenv("MOTO_PORT", str(port))  # the server's interpreter invokes Lambda here
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    # the server's backends live in this process: start from none (executions are named per error)
    requests.post(f"{url}/moto-api/reset", timeout=10)
    saved = copy.deepcopy(default_user_config)
    requests.post(f"{url}/moto-api/config", timeout=10, json={
        "stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
    moto_lambda_hook.install({FUNCTION_PREFIX + s: h for s, h in real_handlers().items()},
                             retry_scale=0.001)
    kw: dict[str, Any] = {"region_name": "us-east-1", "endpoint_url": url}
    queue = boto3.client("sqs", **kw).create_queue(QueueName="fixes")["QueueUrl"]
    values = {**{s.substitution: function_arn("us-east-1", s.name) for s in STATES},
              QUEUE_URL_SUBSTITUTION: queue}
    arn = boto3.client("stepfunctions", **kw).create_state_machine(
        name="fix-error", definition=substitute(DEFAULT_ASL.read_text(encoding="utf-8"), values),
        type="EXPRESS", roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
    try:
        yield {ENDPOINT_ENV: url, "SELFHEAL_STATE_MACHINE_ARN": arn, "AWS_REGION": "us-east-1"}
    finally:
        # the server's config is this process's moto config: put it back for the tests after us
        requests.post(f"{url}/moto-api/config", timeout=10, json=saved)
        requests.post(f"{url}/moto-api/reset", timeout=10)
        server.stop()


class _Installed:
    """The step services every handler uses (``compose.aws.configure(steps=...)``)."""

    def install(self, svc: Any) -> None:
        from selfheal.compose import aws

        aws.configure(steps=svc)


def _installed(svc: Any) -> _Installed:
    installed = _Installed()
    installed.install(svc)
    return installed


@pytest.mark.timeout(120)
def test_fix_and_redrive_run_on_the_endpoint(tmp_path: Path, endpoint: dict[str, str]) -> None:
    host = MemoryCodeHost()
    host.fail_open = [CodeHostForbidden("branch protected")]
    model = ScriptedModel([GOOD_REPLY])
    svc = make_services(tmp_path, model=model, code_host=host)
    fp = seed_error(svc.store)
    runtime = _installed(svc)
    try:
        settings = Settings(home=tmp_path / "home")
        stores = (svc.store, svc.artifacts)
        failed = run_on_endpoint(settings, fp, env=endpoint, stores=stores, timeout=90)
        assert failed.status == Status.FAILED and failed.failed_state == "OpenPullRequest"
        assert failed.execution_id.startswith("arn:aws:states:us-east-1:")
        again = run_on_endpoint(settings, fp, redrive=True, env=endpoint, stores=stores, timeout=90)
    finally:
        runtime.install(None)
    assert again.status == Status.PR_OPEN and again.attempt == 2
    assert len(model.calls) == 1  # the re-drive resumed at OpenPullRequest
    sfn = boto3.client("stepfunctions", region_name="us-east-1", endpoint_url=endpoint[ENDPOINT_ENV])
    names = [e["name"] for e in sfn.list_executions(
        stateMachineArn=endpoint["SELFHEAL_STATE_MACHINE_ARN"])["executions"]]
    assert sorted(names) == sorted([f"{fp[:12]}-1", f"{fp[:12]}-1-c1", f"{fp[:12]}-1-c2", f"{fp[:12]}-2"])
    assert json.loads(json.dumps(again.model_dump(mode="json")))["pr_url"]


def test_the_sfn_engine_needs_the_endpoint(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=ENDPOINT_ENV):
        run_on_endpoint(Settings(home=tmp_path), "f" * 32, env={})


@pytest.mark.timeout(120)
def test_selfheal_fix_engine_sfn_follows_the_endpoint(tmp_path: Path, endpoint: dict[str, str]) -> None:
    from click.testing import CliRunner

    from selfheal.adapters.sqlite_store import SqliteErrorStore
    from selfheal.cli import cli
    from selfheal.compose.store import LOCAL_DB_NAME

    home = tmp_path / "home"
    home.mkdir()
    svc = make_services(tmp_path, store=SqliteErrorStore(home / LOCAL_DB_NAME))
    fp = seed_error(svc.store)
    runtime = _installed(svc)
    try:
        result = CliRunner().invoke(cli, ["fix", fp[:12], "--home", str(home), "--engine", "sfn", "--json"],
                                    env={**endpoint, "SELFHEAL_REPO": str(tmp_path)})
    finally:
        runtime.install(None)
    assert result.exit_code == 0, result.output
    text = result.output
    out = json.loads(text[text.index("{\n"):])  # after the EMF metric lines of the model call
    assert out["status"] == "PR_OPEN", out
    assert out["execution_id"].startswith("arn:aws:states:")
