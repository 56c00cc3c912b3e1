"""ZeroDivisionError template: guard the divisor inline or with an early return / skip."""

from __future__ import annotations

from tests.support.rules_cases import PATH, attempts, context, fixes, load

STATEMENT = '''
def statement(total, active_days):
    daily = total / active_days
    return {"total": total, "daily": round(daily, 2), "projected": round(daily * 30, 2)}
'''


def test_inline_guard_gives_zero_and_keeps_the_normal_path():
    ctx = context(STATEMENT, "ZeroDivisionError", "float division by zero", "daily = total / active_days")
    found = fixes(ctx)
    assert "daily = total / active_days if active_days else 0.0" in found[0].patched[PATH]
    st = load(found[0].patched[PATH]).statement
    assert st(30.0, 0) == {"total": 30.0, "daily": 0.0, "projected": 0.0}
    assert st(30.0, 10) == {"total": 30.0, "daily": 3.0, "projected": 90.0}
    assert found[1].proposal.summary.startswith("Guard")


def test_return_of_a_division_guards_with_the_zero_value():
    code = '''
def average(values: list[float]) -> float:
    return sum(values) / len(values)
'''
    ctx = context(code, "ZeroDivisionError", "division by zero", "return sum(values) / len(values)")
    found = fixes(ctx)
    assert "return sum(values) / len(values) if len(values) else 0.0" in found[0].patched[PATH]
    assert "    if not values:\n        return 0.0\n" in found[1].patched[PATH]
    for f in found:
        assert load(f.patched[PATH]).average([]) == 0.0
        assert load(f.patched[PATH]).average([1.0, 3.0]) == 2.0


def test_division_inside_a_loop_can_skip_the_item():
    code = '''
def conversion_rates(campaigns):
    rates = {}
    for c in campaigns:
        visits = c["visits"]
        rates[c["name"]] = c["orders"] / visits * 100
    return rates
'''
    ctx = context(code, "ZeroDivisionError", "division by zero",
                  'rates[c["name"]] = c["orders"] / visits * 100')
    found = fixes(ctx)
    skip = next(f for f in found if "skip" in f.proposal.summary)
    rates = load(skip.patched[PATH]).conversion_rates
    campaigns = [{"name": "a", "visits": 0, "orders": 0}, {"name": "b", "visits": 4, "orders": 1}]
    assert rates(campaigns) == {"b": 25.0}
    inline = found[0]
    assert "(c[\"orders\"] / visits if visits else 0.0)" in inline.patched[PATH]


def test_integer_floor_division_uses_int_zero():
    code = '''
def per_page(total, pages):
    return total // pages
'''
    ctx = context(code, "ZeroDivisionError", "integer division or modulo by zero", "return total // pages")
    assert "return total // pages if pages else 0" in fixes(ctx)[0].patched[PATH]


def test_decimal_division_by_zero():
    code = '''
from decimal import Decimal


def unit_price(total: Decimal, qty: Decimal) -> Decimal:
    return total / qty
'''
    ctx = context(code, "decimal.DivisionByZero", "[<class 'decimal.DivisionByZero'>]", "return total / qty")
    first = fixes(ctx)[0]
    assert "return total / qty if qty else 0" in first.patched[PATH]
    from decimal import Decimal
    assert load(first.patched[PATH]).unit_price(Decimal("5"), Decimal("0")) == 0


def test_no_division_on_the_line_abstains():
    code = '''
import statistics


def spread(values):
    return statistics.pstdev(values) / 1
'''
    ctx = context(code, "ZeroDivisionError", "division by zero", "return statistics.pstdev(values) / 1")
    assert "no division" in attempts(ctx)[0].proposal.abstain_reason


def test_decimal_guard_only_uses_decimal_when_it_is_imported():
    code = '''
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from decimal import Decimal


def share(total: Decimal, parts: int) -> Decimal:
    each = total / parts
    return each
'''
    ctx = context(code, "decimal.DivisionByZero", "[<class 'decimal.DivisionByZero'>]",
                  "each = total / parts")
    guard = next(f for f in fixes(ctx) if f.proposal.summary.startswith("Guard"))
    assert "    if not parts:\n        return 0\n" in guard.patched[PATH]


def test_a_zero_from_validated_input_is_rejected_like_other_bad_input():
    """The function answers bad input with its module's BadRequest: a zero per_page is bad input
    too, so the only candidate raises BadRequest (a neutral guard would answer it with a 200)."""
    code = '''
import math


class BadRequest(ValueError):
    pass


def list_items(query, items):
    per_page = int(query.get("per_page", 20))
    pages = math.ceil(len(items) / per_page)
    if pages > 100:
        raise BadRequest("too many pages")
    return pages
'''
    ctx = context(code, "ZeroDivisionError", "division by zero", "pages = math.ceil(len(items) / per_page)")
    found = fixes(ctx)
    assert len(found) == 1 and "raise BadRequest('per_page must not be zero')" in found[0].patched[PATH]
    mod = load(found[0].patched[PATH])
    assert mod.list_items({"per_page": "5"}, list(range(12))) == 3
    try:
        mod.list_items({"per_page": "0"}, [1])
    except mod.BadRequest as exc:
        assert "per_page" in str(exc)
    else:
        raise AssertionError("a zero per_page must be rejected")
