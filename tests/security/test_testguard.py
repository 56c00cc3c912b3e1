"""Test integrity: weakened tests are rejected, self-patching tests prove nothing, and an edit of
tests alone is never a fix. Each attack is a case; each has a legitimate twin that must pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.domain.fixing import EditProposal, SearchReplace
from selfheal.validation import gates
from selfheal.validation.service import BaselineCache, validate_candidate
from selfheal.validation.testguard import patches_code_under_test
from tests.support import validation_repo as vr

PATH = "tests/test_stats.py"
ORIGINAL = """from calc.stats import average


def test_average():
    value = average([1, 2, 3])
    assert value == 2
"""


def _weakening(new_body: str) -> list[str]:
    after = ORIGINAL.replace("    value = average([1, 2, 3])\n    assert value == 2\n", new_body)
    assert after != ORIGINAL
    proposal = EditProposal(edits=[SearchReplace(path=PATH, search=ORIGINAL, replace=after)])
    result = gates.no_test_deletion(proposal, {PATH: ORIGINAL})
    return [] if result.passed else [result.detail]


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("removed", "    value = average([1, 2, 3])\n"),
        (
            "try/except AssertionError",
            "    try:\n        assert average([1, 2, 3]) == 2\n    except AssertionError:\n        pass\n",
        ),
        (
            "try/except Exception",
            "    try:\n        assert average([1, 2, 3]) == 2\n    except Exception:\n        pass\n",
        ),
        ("bare except", "    try:\n        assert average([1, 2, 3]) == 2\n    except:\n        pass\n"),
        ("or True", "    value = average([1, 2, 3])\n    assert value == 2 or True\n"),
        ("or 1", "    assert average([1, 2, 3]) == 2 or 1\n"),
        ("tautology ==", "    value = average([1, 2, 3])\n    assert value == value\n"),
        ("tautology is", "    value = average([1, 2, 3])\n    assert value is value\n"),
        ("constant", "    average([1, 2, 3])\n    assert 'fixed'\n"),
        ("early return", "    return\n    assert average([1, 2, 3]) == 2\n"),
        ("if False", "    if False:\n        assert average([1, 2, 3]) == 2\n"),
        (
            "match arm swallowed",
            "    match 1:\n        case _:\n            try:\n"
            "                assert average([1, 2, 3]) == 2\n"
            "            except AssertionError:\n                pass\n",
        ),
    ],
)
def test_weakened_assertions_are_rejected(case: str, body: str) -> None:
    problems = _weakening(body)
    assert problems and "test_average has 0 assertion(s), had 1" in problems[0], case


@pytest.mark.parametrize(
    ("case", "body"),
    [
        (
            "assert inside a match arm",
            "    match average([1, 2, 3]):\n        case v:\n            assert v == 2\n",
        ),
        ("new expected value", "    value = average([1, 2, 3])\n    assert value == 2.0\n"),
        (
            "more assertions",
            "    value = average([1, 2, 3])\n    assert value == 2\n    assert isinstance(value, float)\n",
        ),
        (
            "try/except of another error",
            "    try:\n        value = average([1, 2, 3])\n    except ValueError:\n"
            "        value = None\n    assert value == 2\n",
        ),
        (
            "assert in try with finally",
            "    try:\n        assert average([1, 2, 3]) == 2\n    finally:\n        pass\n",
        ),
        (
            "conditional return after the assert",
            "    value = average([1, 2, 3])\n    assert value == 2\n    if value:\n        return\n",
        ),
    ],
)
def test_legitimate_test_edits_pass(case: str, body: str) -> None:
    assert _weakening(body) == [], case


APP = ["calc/stats.py"]


@pytest.mark.parametrize(
    ("case", "source"),
    [
        (
            "monkeypatch.setattr on the module",
            "from calc import stats\n\n\ndef test_x(monkeypatch):\n"
            "    monkeypatch.setattr(stats, 'average', lambda v: 0.0)\n",
        ),
        (
            "monkeypatch.setattr by dotted string",
            "def test_x(monkeypatch):\n    monkeypatch.setattr('calc.stats.average', lambda v: 0.0)\n",
        ),
        (
            "mock.patch",
            "from unittest import mock\n\n\n@mock.patch('calc.stats.average', return_value=0.0)\n"
            "def test_x(avg):\n    assert avg([]) == 0.0\n",
        ),
        (
            "patch.object",
            "from unittest.mock import patch\nimport calc.stats\n\n\ndef test_x():\n"
            "    with patch.object(calc.stats, 'average', return_value=0.0):\n        pass\n",
        ),
        ("mocker.patch", "def test_x(mocker):\n    mocker.patch('calc.stats.average', return_value=0.0)\n"),
        ("assignment at import", "import calc.stats\n\ncalc.stats.average = lambda values: 0.0\n"),
        ("assignment through an alias", "from calc import stats as s\n\ns.average = lambda values: 0.0\n"),
        (
            "function code swapped",
            "from calc.stats import average\n\naverage.__code__ = (lambda values: 0.0).__code__\n",
        ),
        ("setattr builtin", "import calc.stats\n\nsetattr(calc.stats, 'average', lambda values: 0.0)\n"),
        ("sys.modules", "import sys\nimport types\n\nsys.modules['calc.stats'] = types.SimpleNamespace()\n"),
    ],
)
def test_tests_that_patch_the_code_under_test_are_found(case: str, source: str) -> None:
    assert patches_code_under_test(source, APP), case


@pytest.mark.parametrize(
    ("case", "source"),
    [
        ("environment", "def test_x(monkeypatch):\n    monkeypatch.setenv('TZ', 'UTC')\n"),
        (
            "a library",
            "import os\n\n\ndef test_x(monkeypatch):\n    monkeypatch.setattr(os, 'getcwd', lambda: '/')\n",
        ),
        (
            "mock.patch of a library",
            "from unittest import mock\n\n\n@mock.patch('requests.get')\ndef test_x(get):\n    pass\n",
        ),
        (
            "a plain regression test",
            "from calc.stats import average\n\n\ndef test_x():\n    assert average([]) == 0.0\n",
        ),
        (
            "a module merely sharing a prefix",
            "def test_x(monkeypatch):\n    monkeypatch.setattr('calculus.average', None)\n",
        ),
    ],
)
def test_honest_tests_are_not_flagged(case: str, source: str) -> None:
    assert patches_code_under_test(source, APP) == [], case


def test_an_edit_of_tests_alone_is_never_a_fix(tmp_path: Path) -> None:
    """The #16 attack: a new test that patches the code under test at import, no code change."""
    project = vr.make_project(tmp_path / "proj")
    hostile = EditProposal(
        edits=[
            SearchReplace(
                path="tests/test_empty.py",
                search="",
                replace="import calc.stats\n\ncalc.stats.average = lambda values: 0.0\n\n\n"
                "def test_empty():\n    assert calc.stats.average([]) == 0.0\n",
            )
        ]
    )
    report = validate_candidate(
        *vr.open_repo(project), vr.context(), hostile, vr.settings(), cache=BaselineCache()
    )
    assert not report.valid and report.failed_gate == "app_code"
    assert "changes no application code" in report.feedback


def test_a_self_patching_test_cannot_verify_a_token_change(tmp_path: Path) -> None:
    """With a cosmetic code change the edit passes the gates, but the self-patching test is no
    reproduction and the suite run it contaminated cannot verify the fix."""
    project = vr.make_project(tmp_path / "proj")
    hostile = EditProposal(
        edits=[
            SearchReplace(
                path="calc/stats.py", search="def average(values):\n", replace="def average(values):  # ok\n"
            ),
            SearchReplace(
                path="tests/test_empty.py",
                search="",
                replace="import calc.stats\n\n"
                "calc.stats.average = lambda v: sum(v) / len(v) if v else 0.0\n\n\n"
                "def test_empty():\n    assert calc.stats.average([]) == 0.0\n",
            ),
        ]
    )
    report = validate_candidate(
        *vr.open_repo(project),
        vr.context(),
        hostile,
        vr.settings(unverified="abstain"),
        cache=BaselineCache(),
    )
    assert not report.verified
    assert not report.valid and report.failed_gate == "verified"
    assert any(
        "tests/test_empty.py cannot count: it replaces the code under test" in n for n in report.sandbox_notes
    )
