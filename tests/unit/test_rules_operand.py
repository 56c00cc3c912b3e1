"""None-operand template: arithmetic or concatenation with a missing value."""

from __future__ import annotations

import pytest

from selfheal.fixers.rules_operand import parse
from tests.support.rules_cases import PATH, attempts, context, fixes, load


def test_missing_fee_in_a_sum_becomes_zero():
    code = '''
def order_total(order):
    subtotal = sum(line["price"] * line["qty"] for line in order["lines"])
    return subtotal + order.get("shipping_fee")
'''
    ctx = context(code, "TypeError", "unsupported operand type(s) for +: 'int' and 'NoneType'",
                  'return subtotal + order.get("shipping_fee")')
    first = fixes(ctx)[0]
    assert 'return subtotal + (order.get("shipping_fee") or 0)' in first.patched[PATH]
    total = load(first.patched[PATH]).order_total
    assert total({"lines": [{"price": 2, "qty": 3}]}) == 6
    assert total({"lines": [], "shipping_fee": 5}) == 5


def test_augmented_assignment_in_a_loop():
    code = '''
def total_minutes(calls):
    minutes = 0
    for call in calls:
        duration = call.get("minutes")
        minutes += duration
    return minutes
'''
    ctx = context(code, "TypeError", "unsupported operand type(s) for +=: 'int' and 'NoneType'",
                  "minutes += duration")
    found = fixes(ctx)
    assert "minutes += (duration or 0)" in found[0].patched[PATH]
    skip = next(f for f in found if "skip" in f.proposal.summary)
    assert load(skip.patched[PATH]).total_minutes([{"minutes": 3}, {}, {"minutes": 4}]) == 7


def test_string_concatenation_with_none():
    code = '''
def greeting(user):
    return "Hello, " + user.get("first_name")
'''
    ctx = context(code, "TypeError", 'can only concatenate str (not "NoneType") to str',
                  'return "Hello, " + user.get("first_name")')
    first = fixes(ctx)[0]
    assert load(first.patched[PATH]).greeting({}) == "Hello, "


def test_none_on_the_left_of_an_augmented_target_is_only_guarded():
    code = '''
def bump(stats):
    count = stats.get("count")
    count += 1
    return count
'''
    ctx = context(code, "TypeError", "unsupported operand type(s) for +=: 'NoneType' and 'int'", "count += 1")
    found = fixes(ctx)
    assert all("(count or" not in f.patched[PATH] for f in found)
    assert "if count is None:" in found[0].patched[PATH]


@pytest.mark.parametrize(("message", "side", "other"), [
    ("unsupported operand type(s) for -: 'NoneType' and 'float'", "left", "float"),
    ("unsupported operand type(s) for *: 'Decimal' and 'NoneType'", "right", "Decimal"),
    ('can only concatenate str (not "NoneType") to str', "right", "str"),
])
def test_parse_message(message, side, other):
    parsed = parse(message)
    assert parsed is not None and parsed[1:] == (side, other)


def test_operands_of_two_real_types_are_not_this_rule():
    code = '''
def f(a, b):
    return a + b
'''
    ctx = context(code, "TypeError", "unsupported operand type(s) for +: 'int' and 'str'", "return a + b")
    assert "no fix template" in attempts(ctx)[0].proposal.abstain_reason
