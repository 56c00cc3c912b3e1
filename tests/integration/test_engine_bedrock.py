"""A real Bedrock Converse call from a step handler inside the local engine: moto intercepts
every boto3 call in the process, so the engine must let Bedrock through (passthrough) and keep
the user's credentials. A throttled call (HTTP 429) is tried again in a new execution, then succeeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.adapters.bedrock import BedrockModel
from selfheal.domain.records import Status
from selfheal.services.workflow.runner import run_execution
from tests.support.model_servers import ModelServer
from tests.support.workflow_fakes import GOOD_REPLY, local_engine, make_services, seed_error


@pytest.mark.timeout(120)
def test_bedrock_from_a_handler_is_retried_when_throttled(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer("bedrock") as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
        server.reply_error(429, "ThrottlingException", "Too many requests")
        server.reply_text(GOOD_REPLY, tokens_in=1200, tokens_out=150)
        svc = make_services(tmp_path, model=BedrockModel("anthropic.claude-sonnet-4-5-test",
                                                         region_name="us-east-1"))
        fp = seed_error(svc.store)
        with local_engine(svc) as engine:
            out = run_execution(svc.store, engine, fp, timeout=90)
            history = engine.history(out.execution_id)

    assert out.status == Status.PR_OPEN, out
    assert len(server.requests) == 2
    assert not [e for e in history if e["type"] == "LambdaFunctionFailed"]
    record = svc.store.get(fp)
    runs = [s for s in record.attempts[-1].steps if s.state == "InvokeModel"]  # type: ignore[union-attr]
    assert [(s.outcome, s.error) for s in runs] == [("retried", "ModelThrottled"), ("succeeded", None)]
    assert record is not None and (record.tokens_in, record.tokens_out) == (1200, 150)
    assert record.cost_usd > 0  # priced from the model table, recorded before the next call
