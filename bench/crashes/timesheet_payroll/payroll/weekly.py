"""Gross pay for one week: regular hours at the base rate, overtime at time and a half."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

OVERTIME_MULTIPLIER = Decimal("1.5")


def hours(entries: list[dict[str, Any]]) -> tuple[float, float]:
    """Total regular and overtime hours of the week's timesheet entries."""
    regular = 0.0
    overtime = 0.0
    for entry in entries:
        regular += entry["regular_hours"]
        overtime = overtime + entry.get("overtime_hours")
    return regular, overtime


def gross_pay(timesheet: dict[str, Any]) -> dict[str, str]:
    rate = Decimal(str(timesheet["hourly_rate"]))
    regular, overtime = (Decimal(str(h)) for h in hours(timesheet["entries"]))
    pay = regular * rate + overtime * rate * OVERTIME_MULTIPLIER
    return {"employee": timesheet["employee"], "hours": str(regular + overtime),
            "gross": str(pay.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))}
