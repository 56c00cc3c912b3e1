"""Model prices, cost estimates and the caps that stop a call before it is made.

Prices are APPROXIMATE public list prices in USD per one million tokens (input, output), checked
against the providers' published pricing pages in 2025; they change, and Bedrock cross-region
profiles or batch/cached pricing differ. Override them with the ``model_prices`` setting
(``"claude-sonnet-4-5=3/15,my-model=0.5/1.5"``). A model id is priced by the longest table key it
contains, so ``us.anthropic.claude-sonnet-4-5-20250929-v1:0`` uses ``claude-sonnet-4-5``. Models
not in the table are priced at ``UNKNOWN_MODEL_PRICE`` (a mid-range model's price) so a cap still
means something; local servers (``openai:http://127.0.0.1...``) are free unless an override
names them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from selfheal.errors import ConfigurationError, CostCapReached


@dataclass(frozen=True)
class Price:
    """USD per one million input and output tokens."""

    input_per_m: float
    output_per_m: float

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input_per_m + tokens_out * self.output_per_m) / 1_000_000


FREE = Price(0.0, 0.0)
UNKNOWN_MODEL_PRICE = Price(3.0, 15.0)

DEFAULT_PRICES: dict[str, Price] = {
    "rules": FREE,
    # Anthropic Claude (same list price on the Anthropic API and on-demand Bedrock)
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-opus-4-1": Price(15.0, 75.0),
    "claude-opus-4": Price(15.0, 75.0),
    "claude-sonnet-4-5": Price(3.0, 15.0),
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-3-7-sonnet": Price(3.0, 15.0),
    "claude-3-5-sonnet": Price(3.0, 15.0),
    "claude-haiku-4-5": Price(1.0, 5.0),
    "claude-3-5-haiku": Price(0.8, 4.0),
    "claude-3-haiku": Price(0.25, 1.25),
    # Amazon Nova on Bedrock
    "nova-premier": Price(2.5, 12.5),
    "nova-pro": Price(0.8, 3.2),
    "nova-lite": Price(0.06, 0.24),
    "nova-micro": Price(0.035, 0.14),
    # OpenAI
    "gpt-4.1-mini": Price(0.4, 1.6),
    "gpt-4.1": Price(2.0, 8.0),
    "gpt-4o-mini": Price(0.15, 0.6),
    "gpt-4o": Price(2.5, 10.0),
}

_LOCAL_HOSTS = ("://127.0.0.1", "://localhost", "://[::1]", "://0.0.0.0")


class PriceTable:
    """Model id -> price, by the longest table key contained in the id."""

    def __init__(self, prices: Mapping[str, Price] | None = None, overrides: Sequence[str] = ()) -> None:
        self._prices = dict(DEFAULT_PRICES if prices is None else prices)
        self._overrides = dict(parse_price_override(item) for item in overrides)

    def price(self, model_id: str) -> Price:
        """Explicit overrides first, then free for local servers, then the table."""
        lowered = model_id.lower()
        override = self._best(self._overrides, lowered)
        if override is not None:
            return override
        if any(h in model_id for h in _LOCAL_HOSTS):
            return FREE
        return self._best(self._prices, lowered) or UNKNOWN_MODEL_PRICE

    @staticmethod
    def _best(table: Mapping[str, Price], lowered_id: str) -> Price | None:
        best = max((k for k in table if k.lower() in lowered_id), key=len, default=None)
        return table[best] if best is not None else None


def parse_price_override(item: str) -> tuple[str, Price]:
    """Parse ``"model-substring=IN/OUT"`` (USD per million tokens)."""
    key, sep, value = item.partition("=")
    parts = value.split("/")
    try:
        if not sep or not key.strip() or len(parts) != 2:
            raise ValueError(item)
        return key.strip(), Price(float(parts[0]), float(parts[1]))
    except ValueError as exc:
        raise ConfigurationError(f"model price {item!r} is not MODEL=IN/OUT (USD per 1M tokens)") from exc


def estimate_cost(model_id: str, tokens_in: int, tokens_out: int, prices: PriceTable | None = None) -> float:
    """Cost in USD of a call with the given token counts."""
    return (prices or PriceTable()).price(model_id).cost(tokens_in, tokens_out)


class UsageSource(Protocol):
    """The part of ``ErrorStore`` the day cap needs."""

    def usage_since(self, since: datetime) -> float: ...


def start_of_day(now: datetime) -> datetime:
    """Midnight UTC of ``now``'s day: the per-day cap is a UTC calendar day."""
    now = now.astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class CostCheck:
    """What a passed check measured (for logs and the attempt record)."""

    estimate_usd: float
    fix_spent_usd: float
    day_spent_usd: float


class CostGuard:
    """Refuses a model call, before it is made, when its worst case would break a cap.

    The worst case of a call is its estimated input tokens plus ``max_output_tokens`` at the
    model's price. The per-fix cap compares against what the current fix attempt has spent; the
    per-day cap against ``usage.usage_since(start of the UTC day)``.
    """

    def __init__(self, max_per_fix_usd: float, max_per_day_usd: float, usage: UsageSource | None = None,
                 prices: PriceTable | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.max_per_fix_usd = max_per_fix_usd
        self.max_per_day_usd = max_per_day_usd
        self.usage = usage
        self.prices = prices or PriceTable()
        self.clock = clock

    def worst_case(self, model_id: str, tokens_in: int, max_output_tokens: int) -> float:
        return self.prices.price(model_id).cost(tokens_in, max_output_tokens)

    def check(self, model_id: str, tokens_in: int, max_output_tokens: int,
              fix_spent_usd: float = 0.0) -> CostCheck:
        """Raise ``CostCapReached`` if the call could push the fix or the day over its cap."""
        estimate = self.worst_case(model_id, tokens_in, max_output_tokens)
        if fix_spent_usd + estimate > self.max_per_fix_usd + 1e-12:
            raise CostCapReached(
                f"per-fix cap ${self.max_per_fix_usd:.2f}: spent ${fix_spent_usd:.4f}, the next call to "
                f"{model_id} may cost up to ${estimate:.4f}")
        day_spent = 0.0
        if self.usage is not None:
            day_spent = self.usage.usage_since(start_of_day(self.clock()))
            if day_spent + estimate > self.max_per_day_usd + 1e-12:
                raise CostCapReached(
                    f"per-day cap ${self.max_per_day_usd:.2f}: spent ${day_spent:.4f} today, the next call "
                    f"to {model_id} may cost up to ${estimate:.4f}")
        return CostCheck(estimate, fix_spent_usd, day_spent)

