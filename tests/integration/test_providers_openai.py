"""OpenAI-compatible provider (Ollama, vLLM, llama.cpp) against a local ``/v1/chat/completions``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selfheal.adapters.openai_compat import OpenAICompatModel, completions_url
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
from tests.support.fixgen_providers import GOOD_REPLY, closed_port_url, sample_context, sample_prompt
from tests.support.model_servers import ModelServer


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer("openai") as s:
        yield s


def test_spec_request_and_usage(server: ModelServer) -> None:
    server.reply_text(GOOD_REPLY, tokens_in=1500, tokens_out=120)
    model = build_model(f"openai:{server.url}#qwen2.5-coder:14b", Settings(), env={})
    assert model.model_id == f"openai:{server.url}#qwen2.5-coder:14b"
    prompt = sample_prompt()
    reply = model.complete(prompt)
    assert reply.text == GOOD_REPLY
    assert (reply.tokens_in, reply.tokens_out, reply.stop_reason) == (1500, 120, "stop")
    (req,) = server.requests
    assert req.path == "/v1/chat/completions" and "authorization" not in req.headers
    assert req.body["model"] == "qwen2.5-coder:14b" and req.body["max_tokens"] == 4096
    assert req.body["messages"] == [{"role": "system", "content": prompt.system},
                                    {"role": "user", "content": prompt.user}]


def test_api_key_is_sent_as_bearer(server: ModelServer) -> None:
    server.reply_text(GOOD_REPLY)
    build_model(f"openai:{server.url}/v1#gpt-4o", Settings(), env={"OPENAI_API_KEY": "sk-test"}) \
        .complete(sample_prompt())
    assert server.requests[0].headers["authorization"] == "Bearer sk-test"


def test_urls_and_bad_specs() -> None:
    assert completions_url("http://h:11434") == "http://h:11434/v1/chat/completions"
    assert completions_url("http://h:8000/v1/") == "http://h:8000/v1/chat/completions"
    for spec in ("openai:http://h:1", "openai:#m", "openai:ftp://h#m", "gemini:x", "rules:extra"):
        with pytest.raises(ConfigurationError):
            build_model(spec, Settings(), env={})


@pytest.mark.parametrize("status, error", [
    (429, ModelThrottled), (503, ModelUnavailable), (502, ModelUnavailable), (404, ModelRequestRejected),
])
def test_errors_map_to_condition_classes(server: ModelServer, status: int, error: type[Exception]) -> None:
    server.reply_error(status, message="model 'qwen' is loading" if status == 503 else "no")
    with pytest.raises(error, match=f"HTTP {status}"):
        OpenAICompatModel(server.url, "qwen").complete(sample_prompt())


@pytest.mark.parametrize("body", [
    b"",
    b'{"choices": []}',
    b'{"object": "error"}',
])
def test_malformed_responses(server: ModelServer, body: bytes) -> None:
    server.reply_raw(200, body)
    with pytest.raises(ModelReplyMalformed):
        OpenAICompatModel(server.url, "qwen").complete(sample_prompt())


def test_connection_refused_is_unavailable() -> None:
    with pytest.raises(ModelUnavailable):
        OpenAICompatModel(closed_port_url(), "qwen").complete(sample_prompt())


def test_reply_editing_an_unoffered_file_is_rejected(server: ModelServer) -> None:
    server.reply_text("<<<<<<< SEARCH deploy/template.yaml\nRuntime: python3.11\n=======\n"
                      "Runtime: python3.12\n>>>>>>> REPLACE\n")
    result = FixGenerator(OpenAICompatModel(server.url, "qwen"), Settings()).generate(sample_context())
    assert result.outcome == "rejected" and result.feedback is not None
    assert result.feedback.startswith("EditRejected") and "deploy/template.yaml" in result.feedback
    assert result.reply.cost_usd == 0.0  # a local server is free


def test_cap_reached_for_a_priced_remote_model(server: ModelServer) -> None:
    # A non-local URL (never contacted: the cap stops the call first) is priced as gpt-4o.
    model = OpenAICompatModel("https://api.openai.example/v1", "gpt-4o")
    with pytest.raises(CostCapReached):
        FixGenerator(model, Settings(max_cost_per_fix_usd=0.001)).generate(sample_context())
    assert server.requests == []
