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

