"""None template: subscripted, iterated and attribute-accessed None get a guard or an empty value."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.rules_cases import PATH, attempts, context, fixes, load

PROFILE = '''
from zoneinfo import ZoneInfo


def local_time(user, now):
    tz_name = user["preferences"]["timezone"] or "UTC"
    return now.astimezone(ZoneInfo(tz_name)).strftime("%H:%M")
'''


def test_json_null_subscript_falls_back_to_empty_mapping():
    ctx = context(PROFILE, "TypeError", "'NoneType' object is not subscriptable",
                  'tz_name = user["preferences"]["timezone"] or "UTC"')
    first = fixes(ctx)[0]
    assert '(user["preferences"] or {}).get("timezone")' in first.patched[PATH]
    local_time = load(first.patched[PATH]).local_time
    now = datetime(2024, 6, 1, 12, 30, tzinfo=UTC)
    assert local_time({"preferences": None}, now) == "12:30"
    assert local_time({"preferences": {"timezone": "Asia/Tokyo"}}, now) == "21:30"


def test_subscript_guard_returns_the_annotated_empty_value():
    code = '''
def tags(article) -> list[str]:
    meta = article.get("meta")
    return [t.lower() for t in meta["tags"]]
'''
    ctx = context(code, "TypeError", "'NoneType' object is not subscriptable",
                  'return [t.lower() for t in meta["tags"]]')
    found = fixes(ctx)
    guard = next(f for f in found if f.proposal.summary.startswith("Guard"))
    assert "    if meta is None:\n        return []\n" in guard.patched[PATH]
    assert load(guard.patched[PATH]).tags({}) == []
    assert load(guard.patched[PATH]).tags({"meta": {"tags": ["A"]}}) == ["a"]


def test_iterating_none_from_get_becomes_empty():
    code = '''
def recipients(account):
    out = [account["owner"]]
    for address in account.get("cc"):
        if address not in out:
            out.append(address)
    return out
'''
    ctx = context(code, "TypeError", "'NoneType' object is not iterable", 'for address in account.get("cc"):')
    first = fixes(ctx)[0]
    assert 'for address in (account.get("cc") or []):' in first.patched[PATH]
    assert load(first.patched[PATH]).recipients({"owner": "a@x"}) == ["a@x"]


def test_attribute_of_none_guard_in_a_loop_skips_the_item():
    code = '''
import re

PATTERN = re.compile(r"order (\\d+)")


def order_ids(lines):
    ids = []
    for line in lines:
        m = PATTERN.search(line)
        ids.append(int(m.group(1)))
    return ids
'''
    ctx = context(code, "AttributeError", "'NoneType' object has no attribute 'group'",
                  "ids.append(int(m.group(1)))")
    first = fixes(ctx)[0]
    assert "        if m is None:\n            continue\n" in first.patched[PATH]
    assert load(first.patched[PATH]).order_ids(["order 12", "noise", "order 7"]) == [12, 7]


def test_attribute_of_none_guard_returns_early():
    code = '''
def split_list(settings, key) -> list[str]:
    raw = settings.get(key)
    return [part.strip() for part in raw.split(",") if part.strip()]
'''
    ctx = context(code, "AttributeError", "'NoneType' object has no attribute 'split'",
                  'return [part.strip() for part in raw.split(",") if part.strip()]')
    found = fixes(ctx)
    assert "    if raw is None:\n        return []\n" in found[0].patched[PATH]
    assert load(found[0].patched[PATH]).split_list({}, "hosts") == []
    inline = next(f for f in found if f.proposal.summary.startswith("Fall back"))
    assert 'raw.split(",") if raw is not None else []' in inline.patched[PATH]
    assert load(inline.patched[PATH]).split_list({}, "hosts") == []


def test_none_error_with_nothing_to_guard_abstains():
    code = '''
def f(x):
    return len(x) + 1
'''
    ctx = context(code, "AttributeError", "'NoneType' object has no attribute 'group'", "return len(x) + 1")
    reason = attempts(ctx)[0].proposal.abstain_reason
    assert reason and "AttributeError" in reason
