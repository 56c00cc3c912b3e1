"""Convert basket totals into the shopper's currency using the daily reference rates."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

# Units of each currency per 1 GBP (refreshed daily by the rates job).
RATES = {"GBP": Decimal("1"), "EUR": Decimal("1.1712"), "USD": Decimal("1.2695"), "JPY": Decimal("189.41")}
MINOR_UNITS = {"JPY": 0}


def convert(amount_gbp: Decimal, currency: str) -> Decimal:
    rate = RATES[currency]
    places = MINOR_UNITS.get(currency, 2)
    return (amount_gbp * rate).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def price_basket(request: dict[str, Any]) -> dict[str, Any]:
    total = sum((Decimal(str(line["price_gbp"])) * line["qty"] for line in request["lines"]), Decimal("0"))
    currency = request.get("currency", "GBP")
    return {"currency": currency, "total": str(convert(total, currency))}
