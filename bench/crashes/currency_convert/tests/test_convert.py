from decimal import Decimal

from fx.convert import convert, price_basket


def test_convert_rounds_to_minor_units():
    assert convert(Decimal("10"), "EUR") == Decimal("11.71")
    assert convert(Decimal("10"), "JPY") == Decimal("1894")


def test_basket_in_dollars():
    req = {"lines": [{"price_gbp": 12.5, "qty": 2}], "currency": "USD"}
    assert price_basket(req) == {"currency": "USD", "total": "31.74"}


def test_defaults_to_pounds():
    assert price_basket({"lines": [{"price_gbp": 3, "qty": 1}]})["total"] == "3.00"
