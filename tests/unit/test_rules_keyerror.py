"""KeyError template: .get with a default inferred from usage, guards, and what it leaves alone."""

from __future__ import annotations

import json

from tests.support.rules_cases import PATH, attempts, context, fixes, load

HANDLER = '''
import json


def handle(event):
    body = json.loads(event["body"])
    total = 0
    for item in body["order_items"]:
        total += item["qty"] * item["price"]
    return {"statusCode": 200, "body": json.dumps({"total": total})}
'''


def test_iterated_payload_key_defaults_to_empty_list_and_behaves():
    ctx = context(HANDLER, "KeyError", "'order_items'", 'for item in body["order_items"]:')
    first = fixes(ctx)[0]
    assert 'body.get("order_items", [])' in first.patched[PATH]
    assert first.proposal.root_cause and "order_items" in first.proposal.root_cause
    handle = load(first.patched[PATH]).handle
    assert json.loads(handle({"body": "{}"})["body"]) == {"total": 0}
    ok = handle({"body": json.dumps({"order_items": [{"qty": 2, "price": 3}]})})
    assert json.loads(ok["body"]) == {"total": 6}


def test_second_attempt_is_a_guard_and_no_plain_get_that_iterates_none():
    """A plain ``.get`` would only move the exception (iterating None): it is not a candidate."""
    ctx = context(HANDLER, "KeyError", "'order_items'", 'for item in body["order_items"]:')
    found = fixes(ctx)
    assert [f.proposal.summary.split(":")[0].split(" ")[0] for f in found] == ["Read", "Guard"]
    assert 'if "order_items" not in body:' in found[1].patched[PATH]
    assert attempts(ctx)[-1].proposal.abstain_reason.startswith("all 2 candidate fix(es)")


def test_summed_value_defaults_to_zero():
    code = '''
def invoice_total(payload):
    subtotal = payload["subtotal"]
    return subtotal + payload["shipping"]
'''
    ctx = context(code, "KeyError", "'shipping'", 'return subtotal + payload["shipping"]')
    patched = fixes(ctx)[0].patched[PATH]
    assert 'payload.get("shipping", 0)' in patched
    assert load(patched).invoice_total({"subtotal": 10}) == 10


def test_value_assigned_then_used_as_mapping_defaults_to_dict():
    code = '''
def customer_city(request):
    address = request["address"]
    return address.get("city", "unknown")
'''
    ctx = context(code, "KeyError", "'address'", 'address = request["address"]')
    patched = fixes(ctx)[0].patched[PATH]
    assert 'request.get("address", {})' in patched
    assert load(patched).customer_city({}) == "unknown"


def test_record_in_a_loop_is_skipped_by_the_guard():
    code = '''
def emails(rows):
    out = []
    for row in rows:
        out.append(row["email"].lower())
    return out
'''
    ctx = context(code, "KeyError", "'email'", 'out.append(row["email"].lower())')
    found = fixes(ctx)
    guard = next(f for f in found if "skip" in f.proposal.summary)
    assert load(guard.patched[PATH]).emails([{"email": "A@X"}, {}, {"email": "b@y"}]) == ["a@x", "b@y"]
    # .get with the str-method default comes first
    assert 'row.get("email", "")' in found[0].patched[PATH]


def test_lookup_table_is_not_guessed():
    code = '''
RATES = {"EUR": 1.17, "USD": 1.27}


def convert(amount, currency):
    return amount * RATES[currency]
'''
    ctx = context(code, "KeyError", "'eur'", "return amount * RATES[currency]")
    only = attempts(ctx)
    assert len(only) == 1
    assert "lookup table" in only[0].proposal.abstain_reason


def test_environment_variable_is_configuration():
    code = '''
import os


def db_url():
    return os.environ["DATABASE_URL"]
'''
    ctx = context(code, "KeyError", "'DATABASE_URL'", 'return os.environ["DATABASE_URL"]')
    assert "environment variable" in attempts(ctx)[0].proposal.abstain_reason


def test_object_state_is_not_a_payload():
    code = '''
class Store:
    def __init__(self):
        self._by_id = {}

    def get(self, order_id):
        return self._by_id[order_id]
'''
    ctx = context(code, "KeyError", "'O-1'", "return self._by_id[order_id]")
    assert "own state" in attempts(ctx)[0].proposal.abstain_reason


def test_nested_payload_key():
    code = '''
def login(event):
    return event["detail"]["user"]["login"]
'''
    ctx = context(code, "KeyError", "'user'", 'return event["detail"]["user"]["login"]')
    first = fixes(ctx)[0]
    # .get("user", {}) would raise KeyError('login') one subscript later: the guard comes first
    assert ".get(" not in first.patched[PATH] and 'if "user" not in event["detail"]:' in first.patched[PATH]


def test_defaults_that_move_the_exception_are_not_candidates():
    """``user.get("name", "").split()[0]`` turns KeyError into IndexError, ``user.get("name")``
    into AttributeError: neither is offered; the abstain reason says what each would do."""
    code = '''
def greeting(user):
    first = user["name"].split()[0]
    return "Hello " + first
'''
    ctx = context(code, "KeyError", "'name'", 'first = user["name"].split()[0]')
    found = fixes(ctx)
    assert found and all(".get(" not in f.patched[PATH] for f in found)
    ctx_loop = context('''
def first_word(event):
    return event["text"].split()[0]
''', "KeyError", "'text'", 'return event["text"].split()[0]')
    last = attempts(ctx_loop)[-1].proposal.abstain_reason or ""
    assert 'event.get("text", ""): "".split()[0] raises IndexError' in last
    assert 'event.get("text"): None.split raises AttributeError' in last


def test_no_guard_for_a_name_bound_inside_a_comprehension():
    code = '''
def emails_by_id(rows):
    return {r["id"]: r["email"] for r in rows}
'''
    ctx = context(code, "KeyError", "'email'", 'return {r["id"]: r["email"] for r in rows}')
    found = fixes(ctx)
    assert found and all("Guard" not in f.proposal.summary for f in found)
    assert load(found[0].patched[PATH]).emails_by_id([{"id": 1}]) == {1: None}


def test_pop_without_default_gets_one():
    code = '''
def strip_internal(payload):
    payload.pop("_trace_id")
    return payload
'''
    ctx = context(code, "KeyError", "'_trace_id'", 'payload.pop("_trace_id")')
    first = fixes(ctx)[0]
    assert 'payload.pop("_trace_id", None)' in first.patched[PATH]
    assert load(first.patched[PATH]).strip_internal({"a": 1}) == {"a": 1}
