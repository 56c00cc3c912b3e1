"""RulesFixer as a FixModel: attempt selection, ranking, abstain reasons, robustness."""

from __future__ import annotations

import pytest

from selfheal.domain.edit_format import parse_reply
from selfheal.domain.fixing import FixContext, Prompt
from selfheal.domain.records import FrameRef
from selfheal.fixers import RulesFixer
from selfheal.fixers.rules import choose_rule, propose
from tests.support.rules_cases import PATH, attempts, context, fixes

AVERAGE = '''
def average(values: list[float]) -> float:
    total = sum(values)
    return total / len(values)
'''


def _ctx() -> FixContext:
    return context(AVERAGE, "ZeroDivisionError", "division by zero", "return total / len(values)")


def test_attempt_n_answers_with_the_nth_ranked_candidate():
    ctx = _ctx()
    ranked, reason = propose(ctx)
    assert reason == "" and len(ranked) == 2
    assert [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)
    fixer = RulesFixer()
    for n, cand in enumerate(ranked, start=1):
        reply = fixer.complete(Prompt(system="", user="", attempt=n, context=ctx))
        proposal = parse_reply(reply.text, ctx.offered_files)
        assert proposal.summary == cand.summary
        assert proposal.edits == list(cand.edits)
        assert reply.text.startswith("ROOT CAUSE: ")
        assert "\nSUMMARY: " in reply.text
    last = fixer.complete(Prompt(system="", user="", attempt=3, context=ctx))
    assert last.text.startswith("ABSTAIN: all 2 candidate fix(es)")
    assert last.stop_reason == "abstain"


def test_deterministic_and_ignores_the_prompt_text():
    ctx = _ctx()
    fixer = RulesFixer()
    a = fixer.complete(Prompt(system="x", user="edit .github/workflows/ci.yml instead", context=ctx))
    b = fixer.complete(Prompt(system="y", user="something else", feedback="tests failed", context=ctx))
    assert a.text == b.text
    assert ".github" not in a.text
    assert fixer.model_id == "rules"


def test_every_edit_applies_and_only_touches_offered_files():
    for att in fixes(_ctx()):
        assert set(att.patched) == {PATH}
        compile(att.patched[PATH], PATH, "exec")


@pytest.mark.parametrize(("exc_type", "message", "words"), [
    ("ModuleNotFoundError", "No module named 'pycountry'", "dependency is missing"),
    ("ImportError", "cannot import name 'x' from 'y'", "environment or packaging"),
    ("RecursionError", "maximum recursion depth exceeded", "unbounded recursion"),
    ("MemoryError", "", "ran out of memory"),
    ("json.decoder.JSONDecodeError", "Expecting value: line 1 column 1 (char 0)", "no fix template"),
])
def test_not_code_fixable_errors_abstain_with_a_reason(exc_type, message, words):
    ctx = context(AVERAGE, exc_type, message, "return total / len(values)")
    only = attempts(ctx)
    assert len(only) == 1
    assert words in only[0].proposal.abstain_reason


def test_error_wholly_in_library_frames_abstains():
    ctx = FixContext(fingerprint="f", exc_type="TypeError", message="%d format: a real number is required",
                     frames=[], offered_files=[], files={})
    reply = RulesFixer().complete(Prompt(system="", user="", context=ctx))
    assert reply.text.startswith("ABSTAIN: ")
    assert "wholly inside library" in reply.text


def test_moved_code_is_found_by_its_source_line():
    ctx = _ctx()
    moved = "# a comment added after the crash\n\n" + ctx.files[PATH]
    frame = ctx.frames[-1]
    ctx = ctx.model_copy(update={"files": {PATH: moved}})
    assert frame.line is not None
    first = fixes(ctx)[0]
    assert "return total / len(values) if len(values) else 0.0" in first.patched[PATH]
    assert first.patched[PATH].startswith("# a comment added after the crash")


def test_line_matching_nothing_abstains():
    ctx = _ctx()
    frame = ctx.frames[-1].model_copy(update={"source": "return something_else()", "line": 99})
    ctx = ctx.model_copy(update={"frames": [frame]})
    assert "were not found in the offered files" in attempts(ctx)[0].proposal.abstain_reason


def test_redacted_unparsable_file_abstains_with_the_reason():
    ctx = _ctx()
    broken = ctx.files[PATH].replace("values: list[float]", "values: [REDACTED:secret]")
    ctx = ctx.model_copy(update={"files": {PATH: broken}})
    assert "does not parse" in attempts(ctx)[0].proposal.abstain_reason


def test_repeated_search_text_is_widened_until_unique():
    code = '''
def a(xs):
    return xs[0]


def b(xs):
    return xs[0]
'''
    ctx = context(code, "IndexError", "list index out of range", "return xs[0]", line=7)
    first = fixes(ctx)[0]
    edit = first.proposal.edits[0]
    assert "def b(xs):" in edit.search
    assert first.patched[PATH].count("if not xs:") == 1
    assert first.patched[PATH].index("if not xs:") > first.patched[PATH].index("def b")


def test_innermost_in_app_frame_is_preferred_over_callers():
    helper = '''
def ratio(a, b):
    return a / b
'''
    caller = '''
from svc.handler import ratio


def report(x, y):
    return {"ratio": ratio(x, y)}
'''
    outer = FrameRef(file="/var/task/svc/report.py", function="report", line=6,
                     source='return {"ratio": ratio(x, y)}')
    ctx = context(helper, "ZeroDivisionError", "division by zero", "return a / b", extra_frames=[outer],
                  files={"svc/report.py": caller.lstrip("\n")})
    first = fixes(ctx)[0]
    assert first.proposal.edits[0].path == PATH


def test_rule_choice():
    assert choose_rule("TypeError", "'NoneType' object is not subscriptable") is not None
    assert choose_rule("TypeError", "unsupported operand type(s) for +: 'int' and 'str'") is None
    assert choose_rule("AttributeError", "'NoneType' object has no attribute 'x'") is not choose_rule(
        "AttributeError", "'Event' object has no attribute 'x'")
