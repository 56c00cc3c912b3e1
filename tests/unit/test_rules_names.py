"""Names template: a misspelt name or attribute renamed to Python's own suggestion."""

from __future__ import annotations

import pytest

from selfheal.fixers.rules_names import distance, suggestions
from tests.support.rules_cases import PATH, attempts, context, fixes, load

IMPORTER = '''
def normalize_phone(raw, default_country="44"):
    return "+" + default_country + raw.lstrip("0")


def parse(row):
    phone = row["phone"]
    if row["country"] != "GB":
        phone = normalise_phone(phone, default_country=row["dial"])
        return normalise_phone(phone)
    return normalize_phone(phone)
'''


def test_name_error_without_suggestion_in_message_is_computed_from_scope():
    # logging.exception on Python 3.11 prints no "Did you mean"; the fixer finds it itself.
    ctx = context(IMPORTER, "NameError", "name 'normalise_phone' is not defined",
                  'phone = normalise_phone(phone, default_country=row["dial"])')
    found = fixes(ctx)
    patched = found[0].patched[PATH]
    assert "normalise_phone" not in patched  # every use in the function, not just the failing line
    assert load(patched).parse({"phone": "0400", "country": "FI", "dial": "358"}) == "+44+358400"
    assert found[0].proposal.summary == "Rename normalise_phone to normalize_phone"


def test_suggestion_from_the_message_wins():
    code = '''
def total(items):
    subtotal = sum(items)
    return sub_total * 2
'''
    ctx = context(code, "NameError", "name 'sub_total' is not defined. Did you mean: 'subtotal'?",
                  "return sub_total * 2")
    found = fixes(ctx)
    assert len(found) == 1
    assert load(found[0].patched[PATH]).total([1, 2]) == 6


def test_attribute_typo_on_a_class_in_the_repository():
    code = '''
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class Event:
    event_id: str
    received_at: datetime
    attempts: int = 0


def next_retry(event):
    return event.recieved_at + timedelta(seconds=10 * event.attempts)
'''
    ctx = context(code, "AttributeError", "'Event' object has no attribute 'recieved_at'",
                  "return event.recieved_at + timedelta")
    first = fixes(ctx)[0]
    assert "event.received_at + timedelta" in first.patched[PATH]
    mod = load(first.patched[PATH])
    from datetime import datetime
    assert mod.next_retry(mod.Event("e", datetime(2024, 1, 1), 1)) == datetime(2024, 1, 1, 0, 0, 10)


def test_attribute_typo_on_a_stdlib_module_prefers_a_transposition():
    code = '''
import hashlib


def digest(data):
    return hashlib.sha265(data).hexdigest()
'''
    ctx = context(code, "AttributeError", "module 'hashlib' has no attribute 'sha265'",
                  "return hashlib.sha265(data).hexdigest()")
    found = fixes(ctx)
    assert "hashlib.sha256(data)" in found[0].patched[PATH]  # CPython itself would say sha224
    assert any("hashlib.sha224(data)" in f.patched[PATH] for f in found[1:])


def test_missing_stdlib_import_is_added_after_the_docstring():
    code = '''"""Reports."""


def dump(rows):
    return json.dumps(rows)
'''
    ctx = context(code, "NameError", "name 'json' is not defined", "return json.dumps(rows)")
    first = fixes(ctx)[0]
    assert first.patched[PATH].startswith('"""Reports."""\n\nimport json\n')
    assert load(first.patched[PATH]).dump([1]) == "[1]"


def test_no_close_name_abstains():
    code = '''
def f():
    return frobnicate_widget()
'''
    ctx = context(code, "NameError", "name 'frobnicate_widget' is not defined", "return frobnicate_widget()")
    assert "no close name" in attempts(ctx)[0].proposal.abstain_reason


@pytest.mark.parametrize(("wrong", "names", "expected"), [
    ("normalise_phone", {"normalize_phone", "parse"}, ["normalize_phone"]),
    ("Config", {"config", "configure"}, ["config"]),  # "configure" is past the cut-off
    ("recieved_at", {"received_at", "receive"}, ["received_at"]),
    ("x", {"y", "abc"}, []),
])
def test_suggestions_follow_cpython_cutoff(wrong, names, expected):
    assert suggestions(wrong, names) == expected


def test_distance_counts_case_changes_cheaply():
    assert distance("Config", "config") == 1
    assert distance("sha265", "sha256") == 4


def test_class_defined_in_a_file_that_is_only_a_context_section():
    from selfheal.domain.fixing import CodeSection

    code = '''
def latest(order):
    return order.shipment[-1]
'''
    store = '''class Order:
    def __init__(self, order_id):
        self.order_id = order_id
        self.shipments = []
'''
    ctx = context(code, "AttributeError", "'Order' object has no attribute 'shipment'",
                  "return order.shipment[-1]")
    section = CodeSection(path="orders/store.py", start_line=10, end_line=14, text=store, kind="definition")
    ctx = ctx.model_copy(update={"sections": [section]})
    found = fixes(ctx)
    assert "return order.shipments[-1]" in found[0].patched[PATH]
    assert all(e.path == PATH for f in found for e in f.proposal.edits)


def test_module_attribute_typo_in_a_repository_module():
    helpers = '''
def parse_money(text):
    return round(float(text), 2)
'''
    code = '''
from svc import helpers


def price(row):
    return helpers.parse_mony(row["price"])
'''
    ctx = context(code, "AttributeError", "module 'svc.helpers' has no attribute 'parse_mony'",
                  'return helpers.parse_mony(row["price"])', files={"svc/helpers.py": helpers})
    assert "helpers.parse_money(row" in fixes(ctx)[0].patched[PATH]
