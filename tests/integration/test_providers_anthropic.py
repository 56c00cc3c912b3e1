"""Anthropic Messages API provider against a local server speaking ``POST /v1/messages``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selfheal.adapters.anthropic import AnthropicModel
from selfheal.compose.models import build_model
from selfheal.errors import (
    ConfigurationError,
    CostCapReached,
    ModelReplyMalformed,
    ModelRequestRejected,
    ModelThrottled,
    ModelUnavailable,
)
from selfheal.services.generate import FixGenerator
from selfheal.settings import Settings
from tests.support.fixgen_models import UsageLedger
from tests.support.fixgen_providers import GOOD_REPLY, closed_port_url, sample_context, sample_prompt
from tests.support.model_servers import ModelServer

KEY = "sk-ant-test-0000"


class DictSecrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer("anthropic") as s:
        yield s


def _model(server: ModelServer) -> AnthropicModel:
    return AnthropicModel("claude-sonnet-4-5", KEY, base_url=server.url)


def test_completion_request_and_usage(server: ModelServer) -> None:
    server.reply_text(GOOD_REPLY, tokens_in=2010, tokens_out=88)
    model = build_model("anthropic:claude-sonnet-4-5", Settings(anthropic_base_url=server.url),
                        secrets=DictSecrets({"anthropic_api_key": KEY}), env={})
    prompt = sample_prompt()
    reply = model.complete(prompt)
    assert reply.text == GOOD_REPLY and (reply.tokens_in, reply.tokens_out) == (2010, 88)
    assert reply.model_id == "claude-sonnet-4-5-20250929" and reply.stop_reason == "end_turn"
    (req,) = server.requests
    assert req.headers["x-api-key"] == KEY and req.headers["anthropic-version"] == "2023-06-01"
    assert req.body == {"model": "claude-sonnet-4-5", "max_tokens": 4096, "temperature": 0.0,
                        "system": prompt.system, "messages": [{"role": "user", "content": prompt.user}]}


def test_api_key_from_environment_or_missing() -> None:
    model = build_model("anthropic:claude-haiku-4-5", Settings(), env={"ANTHROPIC_API_KEY": "k"})
    assert model.model_id == "claude-haiku-4-5"
    with pytest.raises(ConfigurationError, match="no API key"):
        build_model("anthropic:claude-haiku-4-5", Settings(), env={})


@pytest.mark.parametrize("status, code, error", [
    (429, "rate_limit_error", ModelThrottled),
    (529, "overloaded_error", ModelUnavailable),
    (503, "api_error", ModelUnavailable),
    (500, "api_error", ModelUnavailable),
    (401, "authentication_error", ModelRequestRejected),
    (400, "invalid_request_error", ModelRequestRejected),
])
def test_errors_map_to_condition_classes(server: ModelServer, status: int, code: str,
                                         error: type[Exception]) -> None:
    server.reply_error(status, code, "prompt is too long" if status == 400 else "try later")
    with pytest.raises(error, match=f"HTTP {status}.*{code}"):
        _model(server).complete(sample_prompt())
    assert len(server.requests) == 1


@pytest.mark.parametrize("body", [
    b"upstream connect error or disconnect/reset before headers",
    b'["not", "an", "object"]',
    b'{"content": "text instead of blocks"}',
])
def test_malformed_responses(server: ModelServer, body: bytes) -> None:
    server.reply_raw(200, body)
    with pytest.raises(ModelReplyMalformed):
        _model(server).complete(sample_prompt())


def test_connection_refused_is_unavailable() -> None:
    with pytest.raises(ModelUnavailable, match="unreachable"):
        AnthropicModel("claude-sonnet-4-5", KEY, base_url=closed_port_url()).complete(sample_prompt())


def test_unparsable_model_text_is_rejected_with_feedback(server: ModelServer) -> None:
    server.reply_text("<<<<<<< SEARCH src/billing/invoices.py\n    rate = 1\n")
    result = FixGenerator(_model(server), Settings()).generate(sample_context())
    assert result.outcome == "rejected"
    assert result.feedback is not None and "not closed" in result.feedback


def test_cap_reached_stops_before_the_call(server: ModelServer) -> None:
    ledger = UsageLedger(already_today=0.49)
    gen = FixGenerator(_model(server), Settings(max_cost_per_day_usd=0.5), usage=ledger)
    with pytest.raises(CostCapReached, match="per-day"):
        gen.generate(sample_context())
    assert server.requests == []
