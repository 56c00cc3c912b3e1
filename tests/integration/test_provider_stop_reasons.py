"""The providers, unchanged, against servers that answer with every stop reason and with empty or
mixed content: no reply leaves its tokens unrecorded, text blocks join with newlines, and only
the text is the answer (reasoning and tool-use blocks are not)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config

from selfheal.adapters.anthropic import AnthropicModel
from selfheal.adapters.bedrock import BedrockModel
from selfheal.adapters.openai_compat import OpenAICompatModel
from selfheal.ports import FixModel
from selfheal.services.generate import FixGenerator
from selfheal.settings import Settings
from tests.support.fixgen_models import UsageLedger
from tests.support.fixgen_providers import GOOD_REPLY, sample_context, sample_prompt
from tests.support.model_servers import ModelServer

HEAD, TAIL = GOOD_REPLY.split("<<<<<<<", 1)


def _model(server: ModelServer) -> FixModel:
    if server.kind == "bedrock":
        client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=server.url,
                              config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
        return BedrockModel("us.anthropic.claude-sonnet-4-5-20250929-v1:0", client=client)
    if server.kind == "anthropic":
        return AnthropicModel("claude-sonnet-4-5", "k", base_url=server.url)
    return OpenAICompatModel(server.url, "qwen")


def _generate(server: ModelServer) -> tuple[Any, UsageLedger]:
    ledger = UsageLedger()
    generator = FixGenerator(_model(server), Settings(), usage=ledger)
    result = generator.generate(sample_context(), record_attempt=1)
    return result, ledger


# --- Converse ----------------------------------------------------------------------------------


def test_converse_empty_content_cut_off_is_a_failed_round_with_its_tokens() -> None:
    with ModelServer("bedrock") as server:
        server.reply_content([], "max_tokens", tokens_in=2100, tokens_out=4096)
        result, ledger = _generate(server)
    assert result.outcome == "rejected" and "no text" in result.reason and "cut off" in result.reason
    assert [(r[2], r[3]) for r in ledger.rows] == [(2100, 4096)]


def test_converse_mixed_blocks_keep_only_the_text_joined_by_newlines() -> None:
    with ModelServer("bedrock") as server:
        server.reply_content([
            {"reasoningContent": {"reasoningText": {"text": "<<<<<<< SEARCH nonsense", "signature": "s"}}},
            {"text": HEAD.rstrip("\n")},
            {"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {}}},
            {"text": "<<<<<<<" + TAIL}], "end_turn")
        reply = _model(server).complete(sample_prompt())
        assert reply.text == HEAD.rstrip("\n") + "\n<<<<<<<" + TAIL  # no two lines glued together
        server.reply_content([{"text": HEAD.rstrip("\n")}, {"text": "<<<<<<<" + TAIL}], "end_turn")
        result, _ = _generate(server)
    assert result.outcome == "proposed"


@pytest.mark.parametrize("stop", ["guardrail_intervened", "content_filtered"])
def test_converse_filters_abstain_without_another_call(stop: str) -> None:
    with ModelServer("bedrock") as server:
        server.reply_content([{"text": "Sorry, the model cannot answer that."}], stop, tokens_out=12)
        result, ledger = _generate(server)
        assert len(server.requests) == 1
    assert result.outcome == "abstained" and stop in result.reason and ledger.rows[0][3] == 12


def test_converse_parseable_reply_cut_off_is_still_a_repair_round() -> None:
    with ModelServer("bedrock") as server:
        server.reply_content([{"text": GOOD_REPLY}], "max_tokens")
        result, _ = _generate(server)
    assert result.outcome == "rejected" and "cut off at the output limit of 4096" in result.reason


def test_converse_context_window_exceeded_is_a_repair_round() -> None:
    with ModelServer("bedrock") as server:
        server.reply_content([], "model_context_window_exceeded", tokens_out=0)
        result, ledger = _generate(server)
    assert result.outcome == "rejected" and "context window" in result.reason and ledger.rows


# --- Anthropic and OpenAI-compatible -------------------------------------------------------------


def test_anthropic_empty_content_and_mixed_blocks() -> None:
    with ModelServer("anthropic") as server:
        server.reply_content([], "max_tokens", tokens_out=4096)
        result, ledger = _generate(server)
        assert result.outcome == "rejected" and ledger.rows[0][3] == 4096
        server.reply_content([{"type": "thinking", "thinking": "<<<<<<< SEARCH x", "signature": "s"},
                              {"type": "text", "text": HEAD.rstrip("\n")},
                              {"type": "tool_use", "id": "t", "name": "x", "input": {}},
                              {"type": "text", "text": "<<<<<<<" + TAIL}], "end_turn")
        result, _ = _generate(server)
        assert result.outcome == "proposed"
        server.reply_content([{"type": "text", "text": "I can't help with that."}], "refusal")
        result, _ = _generate(server)
        assert result.outcome == "abstained" and "refusal" in result.reason


def test_openai_null_content_filter_and_refusal() -> None:
    with ModelServer("openai") as server:
        server.reply_content(None, "content_filter", tokens_out=30)
        result, ledger = _generate(server)
        assert result.outcome == "abstained" and ledger.rows[0][3] == 30
        server.reply_content(None, "stop", refusal="I can't help with that.")
        result, _ = _generate(server)
        assert result.outcome == "abstained" and "refusal" in result.reason
        server.reply_content(None, "tool_calls", tool_calls=[{"id": "c", "type": "function"}])
        result, _ = _generate(server)
        assert result.outcome == "rejected" and "no text" in result.reason
        server.reply_content(GOOD_REPLY, "length")
        result, _ = _generate(server)
        assert result.outcome == "rejected" and "cut off" in result.reason
