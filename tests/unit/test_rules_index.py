"""IndexError template: [0], [-1] and pop() on an empty sequence get a guard; computed indexes don't."""

from __future__ import annotations

from tests.support.rules_cases import PATH, attempts, context, fixes, load


def test_first_and_last_of_empty_list_guard_returns_annotated_default():
    code = '''
def summarise(latencies: list[float]) -> dict[str, float]:
    ok = sorted(latencies)
    fastest, slowest = ok[0], ok[-1]
    return {"min": fastest, "max": slowest}
'''
    ctx = context(code, "IndexError", "list index out of range", "fastest, slowest = ok[0], ok[-1]")
    found = fixes(ctx)
    assert "    if not ok:\n        return {}\n" in found[0].patched[PATH]
    summarise = load(found[0].patched[PATH]).summarise
    assert summarise([]) == {}
    assert summarise([3.0, 1.0]) == {"min": 1.0, "max": 3.0}


def test_pop_from_empty_list():
    code = '''
class JobQueue:
    def __init__(self):
        self.pending = []

    def next_job(self):
        return self.pending.pop(0)
'''
    ctx = context(code, "IndexError", "pop from empty list", "return self.pending.pop(0)")
    found = fixes(ctx)
    assert "        if not self.pending:\n            return None\n" in found[0].patched[PATH]
    q = load(found[0].patched[PATH]).JobQueue()
    assert q.next_job() is None
    q.pending.append("job")
    assert q.next_job() == "job"
    inline = found[1]
    assert "return self.pending.pop(0) if self.pending else None" in inline.patched[PATH]


def test_first_item_in_a_loop_skips_empty_groups():
    code = '''
def leaders(teams):
    out = []
    for team in teams:
        members = team["members"]
        out.append(members[0])
    return out
'''
    ctx = context(code, "IndexError", "list index out of range", "out.append(members[0])")
    first = fixes(ctx)[0]
    assert "continue" in first.patched[PATH]
    assert load(first.patched[PATH]).leaders([{"members": []}, {"members": ["ann"]}]) == ["ann"]


def test_computed_index_is_an_off_by_one_not_an_empty_sequence():
    code = '''
def trend(values):
    diffs = [values[i + 1] - values[i] for i in range(len(values))]
    return sum(diffs) / len(diffs)
'''
    ctx = context(code, "IndexError", "list index out of range", "diffs = [values[i + 1] - values[i]")
    only = attempts(ctx)
    assert len(only) == 1 and "off-by-one" in only[0].proposal.abstain_reason


def test_fixed_index_past_the_first_is_malformed_input():
    code = '''
def country(line):
    return line.split(",")[2]
'''
    ctx = context(code, "IndexError", "list index out of range", 'return line.split(",")[2]')
    assert "off-by-one or malformed input" in attempts(ctx)[0].proposal.abstain_reason
