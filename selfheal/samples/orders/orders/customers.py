"""Customer directory (in memory here; a DynamoDB table in production)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Address:
    name: str
    street: str
    city: str
    postcode: str
    country: str


@dataclass(frozen=True)
class Customer:
    customer_id: str
    email: str
    address: Address


_CUSTOMERS = {
    "C-1001": Customer("C-1001", "ana@example.com",
                       Address("Ana Lima", "12 Harbour Rd", "Bristol", "BS1 4DJ", "GB")),
    "C-1002": Customer("C-1002", "kofi@example.com",
                       Address("Kofi Mensah", "8 Mill Lane", "Leeds", "LS2 7EY", "GB")),
}


def find_customer(customer_id: str) -> Customer | None:
    """The customer with this id, or None (guest checkouts have no customer record)."""
    return _CUSTOMERS.get(customer_id)
