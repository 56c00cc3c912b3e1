"""Order pricing: line totals, promotions, tax and shipping."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

TAX_RATE = Decimal("0.08")
FREE_SHIPPING_FROM = Decimal("100.00")
FLAT_SHIPPING = Decimal("6.95")
CENT = Decimal("0.01")

# promo code -> percentage off the subtotal
PROMOTIONS = {"SPRING10": Decimal("10"), "CAMP25": Decimal("25")}


@dataclass(frozen=True)
class LineItem:
    sku: str
    unit_price: Decimal
    quantity: int

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    shipping: Decimal

    @property
    def grand_total(self) -> Decimal:
        return self.subtotal - self.discount + self.tax + self.shipping


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def price_order(lines: list[LineItem], promo_code: str | None = None) -> Totals:
    """Price an order: subtotal, promotion, tax on the discounted amount, shipping."""
    subtotal = sum((line.total for line in lines), Decimal("0"))
    percent_off = PROMOTIONS.get((promo_code or "").upper(), Decimal("0"))
    discount = _money(subtotal * percent_off / 100)
    taxable = subtotal - discount
    shipping = Decimal("0") if taxable >= FREE_SHIPPING_FROM or not lines else FLAT_SHIPPING
    return Totals(subtotal=_money(subtotal), discount=discount, tax=_money(taxable * TAX_RATE),
                  shipping=shipping)
