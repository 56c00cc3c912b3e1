"""The product catalogue (a fixed price list; the real service reads it from a table)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


class UnknownProduct(LookupError):
    """No product has the requested SKU."""


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal
    weight_kg: Decimal


_PRODUCTS = {
    p.sku: p
    for p in (
        Product("MUG-001", "Enamel camping mug", Decimal("12.50"), Decimal("0.30")),
        Product("TNT-220", "Two-person tent", Decimal("189.00"), Decimal("2.40")),
        Product("LMP-014", "Head lamp", Decimal("34.90"), Decimal("0.12")),
        Product("BAG-075", "Sleeping bag, 3 season", Decimal("129.00"), Decimal("1.35")),
        Product("STV-300", "Gas stove", Decimal("59.95"), Decimal("0.45")),
    )
}


def get_product(sku: str) -> Product:
    """The product with ``sku``; raises ``UnknownProduct`` when there is none."""
    try:
        return _PRODUCTS[sku]
    except KeyError:
        raise UnknownProduct(sku) from None
