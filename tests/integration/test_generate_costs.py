"""Cost control with the real SQLite error store: usage recorded per attempt, then the per-day cap
reads it back and stops the next call before it reaches the provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.adapters.openai_compat import OpenAICompatModel
from selfheal.adapters.sqlite_store import SqliteErrorStore
from selfheal.domain.records import Observation
from selfheal.errors import CostCapReached
from selfheal.services.generate import FixGenerator
from selfheal.settings import Settings
from tests.support.fixgen_providers import GOOD_REPLY, sample_context
from tests.support.model_servers import ModelServer


def test_usage_is_recorded_and_the_day_cap_stops_the_next_call(tmp_path: Path) -> None:
    store = SqliteErrorStore(tmp_path / "errors.db")
    ctx = sample_context()
    store.observe(Observation(fingerprint=ctx.fingerprint, exc_type="KeyError", message="'US'"))
    attempt = store.start_attempt(ctx.fingerprint, execution="exec-1")
    # Local servers are free unless the operator prices them (say, to share out a GPU's cost).
    settings = Settings(model_prices=["qwen-priced=3/15"], max_cost_per_day_usd=0.09, max_output_tokens=1000)
    with ModelServer("openai") as server:
        server.reply_text(GOOD_REPLY, tokens_in=20_000, tokens_out=1000)
        model = OpenAICompatModel(server.url, "qwen-priced")
        gen = FixGenerator(model, settings, usage=store)
        first = gen.generate(ctx, 1, None, record_attempt=attempt.number)
        assert first.outcome == "proposed"
        cost = (20_000 * 3 + 1000 * 15) / 1e6  # 0.075
        assert first.reply.cost_usd == pytest.approx(cost)
        rec = store.get(ctx.fingerprint)
        assert rec is not None and rec.attempts[-1].tokens_in == 20_000
        assert rec.attempts[-1].cost_usd == pytest.approx(cost) and rec.cost_usd == pytest.approx(cost)
        # 0.075 spent today; the next call's worst case (~0.005 in + 0.015 out) breaks 0.09.
        with pytest.raises(CostCapReached, match="per-day"):
            gen.generate(ctx, 2, "tests failed", record_attempt=attempt.number)
        assert len(server.requests) == 1



@pytest.mark.parametrize(("kind", "body"), [
    ("bedrock", {"usage": {"inputTokens": 1200, "outputTokens": 150}, "stopReason": "end_turn"}),
    ("anthropic", {"type": "message", "usage": {"input_tokens": 1200, "output_tokens": 150}}),
    ("openai", {"choices": [], "usage": {"prompt_tokens": 1200, "completion_tokens": 150}}),
])
def test_a_body_that_is_no_reply_still_records_what_it_billed(tmp_path: Path, kind: str,
                                                              body: dict[str, object]) -> None:
    """No ``output.message`` / content list / choice: malformed, but its usage block says the call
    was billed, so the tokens land on the attempt and the day's total before the error is raised."""
    from botocore.config import Config

    from selfheal.adapters.anthropic import AnthropicModel
    from selfheal.adapters.bedrock import BedrockModel
    from selfheal.errors import ModelReplyMalformed
    from selfheal.ports import FixModel

    store = SqliteErrorStore(tmp_path / "errors.db")
    ctx = sample_context()
    store.observe(Observation(fingerprint=ctx.fingerprint, exc_type="KeyError", message="'US'"))
    attempt = store.start_attempt(ctx.fingerprint, execution="exec-1")
    settings = Settings(model_prices=["priced=3/15"], max_output_tokens=1000)
    with ModelServer(kind) as server:  # type: ignore[arg-type]
        server.reply_json(200, body)
        model: FixModel
        if kind == "bedrock":
            import boto3

            client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=server.url,
                                  aws_access_key_id="x", aws_secret_access_key="y",
                                  config=Config(retries={"max_attempts": 1}))
            model = BedrockModel("priced", client=client)
        elif kind == "anthropic":
            model = AnthropicModel("priced", "k", base_url=server.url)
        else:
            model = OpenAICompatModel(server.url, "priced")
        with pytest.raises(ModelReplyMalformed):
            FixGenerator(model, settings, usage=store).generate(ctx, 1, None, record_attempt=attempt.number)
    rec = store.get(ctx.fingerprint)
    assert rec is not None and rec.attempts[-1].tokens_in == 1200 and rec.attempts[-1].tokens_out == 150
    assert rec.attempts[-1].cost_usd == pytest.approx((1200 * 3 + 150 * 15) / 1e6)
