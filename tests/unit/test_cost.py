"""Prices, estimates and caps that stop a call before it is made."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from selfheal.domain.cost import FREE, UNKNOWN_MODEL_PRICE, CostGuard, Price, PriceTable, estimate_cost
from selfheal.errors import ConfigurationError, CostCapReached


class Ledger:
    """Usage per timestamp, like ``ErrorStore.usage_since``."""

    def __init__(self, entries: list[tuple[datetime, float]]) -> None:
        self.entries = entries
        self.asked: list[datetime] = []

    def usage_since(self, since: datetime) -> float:
        self.asked.append(since)
        return sum(c for t, c in self.entries if t >= since)


def test_prices_by_longest_contained_key_and_overrides() -> None:
    t = PriceTable()
    assert t.price("us.anthropic.claude-sonnet-4-5-20250929-v1:0") == Price(3.0, 15.0)
    assert t.price("anthropic.claude-3-5-haiku-20241022-v1:0") == Price(0.8, 4.0)
    assert t.price("gpt-4o-mini") == Price(0.15, 0.6)  # not gpt-4o
    assert t.price("rules") == FREE
    assert t.price("openai:http://127.0.0.1:11434#qwen2.5-coder") == FREE
    assert t.price("mystery-model") == UNKNOWN_MODEL_PRICE
    o = PriceTable(overrides=["mystery=1/2", "claude-sonnet-4-5=2.5/12"])
    assert o.price("mystery-model") == Price(1.0, 2.0)
    assert o.price("us.anthropic.claude-sonnet-4-5-20250929-v1:0") == Price(2.5, 12.0)
    assert o.price("openai:http://127.0.0.1:8000#mystery-7b") == Price(1.0, 2.0)  # operator priced it
    with pytest.raises(ConfigurationError, match="MODEL=IN/OUT"):
        PriceTable(overrides=["nonsense"])


def test_estimate_cost() -> None:
    assert estimate_cost("claude-sonnet-4-5", 1_000_000, 0) == pytest.approx(3.0)
    assert estimate_cost("claude-sonnet-4-5", 2000, 1000) == pytest.approx(0.006 + 0.015)


def test_per_fix_cap_stops_before_the_call() -> None:
    guard = CostGuard(max_per_fix_usd=0.10, max_per_day_usd=100.0)
    # 10k in + 4k out at sonnet prices = 0.03 + 0.06 = 0.09: fits when nothing was spent.
    check = guard.check("claude-sonnet-4-5", 10_000, 4096, fix_spent_usd=0.0)
    assert check.estimate_usd == pytest.approx(0.03 + 4096 * 15 / 1e6)
    with pytest.raises(CostCapReached, match="per-fix cap"):
        guard.check("claude-sonnet-4-5", 10_000, 4096, fix_spent_usd=0.02)
    # A free model never trips the cap.
    guard.check("rules", 10_000, 4096, fix_spent_usd=0.10)


def test_per_day_cap_uses_the_utc_day() -> None:
    now = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)
    ledger = Ledger([(datetime(2026, 11, 28, 23, 0, tzinfo=UTC), 50.0),
                     (datetime(2026, 11, 29, 1, 0, tzinfo=UTC), 0.95)])
    guard = CostGuard(max_per_fix_usd=5.0, max_per_day_usd=1.0, usage=ledger, clock=lambda: now)
    with pytest.raises(CostCapReached, match="per-day cap"):
        guard.check("claude-sonnet-4-5", 10_000, 4096)
    assert ledger.asked == [datetime(2026, 11, 29, tzinfo=UTC)]
    ok = guard.check("claude-3-haiku", 1000, 1000)
    assert ok.day_spent_usd == pytest.approx(0.95)
