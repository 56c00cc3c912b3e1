"""Shipment tracking."""

from __future__ import annotations

from orders.store import Order


def latest_status(order: Order) -> dict[str, str]:
    """Where the order's most recent shipment is."""
    shipment = order.shipments[-1]
    return {
        "order_id": order.order_id,
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "status": shipment.status,
    }
