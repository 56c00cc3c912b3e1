"""Monthly statements: charges per meter, the projected month-end total and averages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

PRICES = {"api_calls": 0.0004, "storage_gb_days": 0.0021, "egress_gb": 0.09}


@dataclass(frozen=True)
class Account:
    account_id: str
    created_on: date


def charges(usage: dict[str, float]) -> dict[str, float]:
    """Charge per meter; unknown meters are free (they are billed by other systems)."""
    return {meter: round(qty * PRICES[meter], 2) for meter, qty in usage.items() if meter in PRICES}


def days_active(account: Account, period_start: date, today: date) -> int:
    start = max(account.created_on, period_start)
    return (today - start).days


def statement(account: Account, usage: dict[str, float], period_start: date, today: date) -> dict[str, object]:
    """The running statement shown on the billing page."""
    lines = charges(usage)
    total = round(sum(lines.values()), 2)
    active = days_active(account, period_start, today)
    daily = total / active
    return {
        "account": account.account_id,
        "lines": lines,
        "total": total,
        "average_per_day": round(daily, 2),
        "projected": round(daily * 30, 2),
    }
