from decimal import Decimal

from orders.pricing import LineItem, price_order


def test_subtotal_tax_and_flat_shipping():
    totals = price_order([LineItem("MUG-001", Decimal("12.50"), 3)])
    assert totals.subtotal == Decimal("37.50")
    assert totals.tax == Decimal("3.00")
    assert totals.shipping == Decimal("6.95")
    assert totals.grand_total == Decimal("47.45")


def test_promotion_is_taken_before_tax():
    totals = price_order([LineItem("TNT-220", Decimal("189.00"), 1)], promo_code="SPRING10")
    assert totals.discount == Decimal("18.90")
    assert totals.tax == Decimal("13.61")
    assert totals.shipping == Decimal("0")


def test_unknown_promotion_gives_no_discount():
    totals = price_order([LineItem("LMP-014", Decimal("34.90"), 1)], promo_code="FREESTUFF")
    assert totals.discount == Decimal("0.00")
