"""Order storage (in memory here; a DynamoDB table in production)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from orders.pricing import LineItem, Totals


@dataclass
class Shipment:
    carrier: str
    tracking_number: str
    status: str


@dataclass
class Order:
    order_id: str
    customer_id: str
    placed_on: date
    lines: list[LineItem]
    totals: Totals
    shipments: list[Shipment] = field(default_factory=list)


class OrderStore:
    """Orders by id, with a few days of history preloaded."""

    def __init__(self) -> None:
        self._orders: dict[str, Order] = {}
        self._ids = itertools.count(5000)
        self._seed()

    def add(self, customer_id: str, placed_on: date, lines: list[LineItem], totals: Totals) -> Order:
        order = Order(f"O-{next(self._ids)}", customer_id, placed_on, lines, totals)
        self._orders[order.order_id] = order
        return order

    def get(self, order_id: str) -> Order | None:
        return self._orders.get(order_id)

    def placed_on(self, day: date) -> list[Order]:
        return [o for o in self._orders.values() if o.placed_on == day]

    def _seed(self) -> None:
        mug = LineItem("MUG-001", Decimal("12.50"), 2)
        tent = LineItem("TNT-220", Decimal("189.00"), 1)
        shipped = self.add("C-1001", date(2024, 5, 6), [mug],
                           Totals(Decimal("25.00"), Decimal("0"), Decimal("2.00"), Decimal("6.95")))
        shipped.shipments.append(Shipment("DPD", "15501234567890", "delivered"))
        self.add("C-1002", date(2024, 5, 6), [tent],
                 Totals(Decimal("189.00"), Decimal("0"), Decimal("15.12"), Decimal("0")))
        self.add("guest-7f3a", date(2024, 5, 6), [mug],
                 Totals(Decimal("25.00"), Decimal("0"), Decimal("2.00"), Decimal("6.95")))
