"""Shipping labels."""

from __future__ import annotations

from orders.customers import find_customer
from orders.store import Order


def shipping_label(order: Order) -> str:
    """The address block printed on the parcel."""
    customer = find_customer(order.customer_id)
    address = customer.address
    return "\n".join([address.name, address.street, f"{address.postcode} {address.city}",
                      address.country])
