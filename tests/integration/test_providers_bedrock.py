"""Bedrock Converse provider against a local server speaking ``POST /model/{id}/converse``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from selfheal.adapters.bedrock import BedrockModel
from selfheal.compose.models import build_model
from selfheal.errors import (
    CostCapReached,
    ModelReplyMalformed,
    ModelRequestRejected,
    ModelThrottled,
    ModelUnavailable,
)
from selfheal.services.generate import FixGenerator
from selfheal.settings import Settings
from tests.support.fixgen_providers import GOOD_REPLY, closed_port_url, sample_context, sample_prompt
from tests.support.model_servers import ModelServer

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer("bedrock") as s:
        yield s


def _client(url: str) -> Any:
    return boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=url,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def test_default_client_follows_the_endpoint_env_var(server: ModelServer,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    server.reply_text(GOOD_REPLY, tokens_in=1834, tokens_out=97)
    model = build_model("bedrock", Settings())  # default model id from settings
    assert isinstance(model, BedrockModel) and model.model_id == MODEL
    prompt = sample_prompt()
    reply = model.complete(prompt)
    assert reply.text == GOOD_REPLY and reply.model_id == MODEL
    assert (reply.tokens_in, reply.tokens_out, reply.stop_reason) == (1834, 97, "end_turn")
    assert reply.latency_ms == 812  # from the response's metrics
    (req,) = server.requests
    assert req.model == MODEL
    assert req.body["system"] == [{"text": prompt.system}]
    assert req.body["messages"] == [{"role": "user", "content": [{"text": prompt.user}]}]
    assert req.body["inferenceConfig"] == {"maxTokens": 4096, "temperature": 0.0}
    assert req.headers["authorization"].startswith("AWS4-HMAC-SHA256")  # signed like real AWS


def test_default_client_does_not_retry_throttling(server: ModelServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    server.reply_error(429, "ThrottlingException", "Too many requests, please wait before trying again.")
    server.reply_text(GOOD_REPLY)
    with pytest.raises(ModelThrottled):
        build_model(f"bedrock:{MODEL}", Settings()).complete(sample_prompt())
    assert len(server.requests) == 1


@pytest.mark.parametrize("status, code, error", [
    (429, "ThrottlingException", ModelThrottled),
    (400, "ServiceQuotaExceededException", ModelThrottled),
    (503, "ServiceUnavailableException", ModelUnavailable),
    (500, "InternalServerException", ModelUnavailable),
    (408, "ModelTimeoutException", ModelUnavailable),
    (400, "ValidationException", ModelRequestRejected),
    (403, "AccessDeniedException", ModelRequestRejected),
])
def test_errors_map_to_condition_classes_without_hidden_retries(
        server: ModelServer, status: int, code: str, error: type[Exception]) -> None:
    server.reply_error(status, code, "slow down" if status == 429 else "nope")
    server.reply_text(GOOD_REPLY)  # would be used by a hidden retry
    with pytest.raises(error, match=code):
        BedrockModel(MODEL, client=_client(server.url)).complete(sample_prompt())
    assert len(server.requests) == 1  # the workflow's Retry owns backoff, not botocore


@pytest.mark.parametrize("body", [
    b"<html>502 Bad Gateway</html>",
    b'{"output": {}}',
])
def test_malformed_responses(server: ModelServer, body: bytes) -> None:
    server.reply_raw(200, body)
    with pytest.raises(ModelReplyMalformed):
        BedrockModel(MODEL, client=_client(server.url)).complete(sample_prompt())


def test_connection_refused_is_unavailable() -> None:
    with pytest.raises(ModelUnavailable):
        BedrockModel(MODEL, client=_client(closed_port_url())).complete(sample_prompt())


def test_unparsable_model_text_is_rejected_with_feedback(server: ModelServer) -> None:
    server.reply_text("Sure! Change line 43 to use .get()")
    model = BedrockModel(MODEL, client=_client(server.url))
    result = FixGenerator(model, Settings()).generate(sample_context())
    assert result.outcome == "rejected" and result.reply.tokens_in == 1200
    assert result.feedback is not None and result.feedback.startswith("ModelReplyMalformed")
    assert result.reply.cost_usd == pytest.approx((1200 * 3 + 150 * 15) / 1e6)


def test_cap_reached_stops_before_the_call(server: ModelServer) -> None:
    gen = FixGenerator(BedrockModel(MODEL, client=_client(server.url)), Settings(max_cost_per_fix_usd=0.01))
    with pytest.raises(CostCapReached):
        gen.generate(sample_context())
    assert server.requests == []
