"""Refunds of returned items."""

from __future__ import annotations

from decimal import Decimal

from orders.catalog import get_product
from orders.store import Order


class RefundRefused(ValueError):
    """The refund request does not match the order."""


def refund_amount(order: Order, sku: str, quantity: int) -> Decimal:
    """What to pay back for ``quantity`` returned units of ``sku`` from ``order``."""
    bought = sum(line.quantity for line in order.lines if line.sku == sku)
    if quantity < 1 or quantity > bought:
        raise RefundRefused(f"{order.order_id} has {bought} x {sku}; cannot refund {quantity}")
    product = get_product(sku)
    return product.unit_price * quantity
