"""Sales reports for the back office."""

from __future__ import annotations

from decimal import Decimal

from orders.store import Order


def daily_summary(orders: list[Order]) -> dict[str, str | int | float]:
    """Order count, revenue and basket size of one day's orders."""
    revenue = sum((o.totals.grand_total for o in orders), Decimal("0"))
    items_sold = sum(line.quantity for o in orders for line in o.lines)
    items_per_order = items_sold / len(orders)
    return {
        "orders": len(orders),
        "items_sold": items_sold,
        "items_per_order": round(items_per_order, 2),
        "revenue": str(revenue.quantize(Decimal("0.01"))),
    }
