"""The recorded input replayed against the entry frame, on a real git repository: it verifies a
real fix, rejects a patch that moves the exception, and ships as the repository's own test."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.adapters.local_git import LocalGitRepository
from selfheal.domain.capture import make_input
from selfheal.domain.context import build_context
from selfheal.domain.edit_format import parse_reply
from selfheal.domain.fixing import FixContext
from selfheal.domain.records import ErrorRecord, FrameRef
from selfheal.domain.reproduce import with_regression_test
from selfheal.settings import Settings
from selfheal.validation.service import BaselineCache, validate_candidate
from tests.support.git_repos import make_work_repo

APP = '''"""Profile API."""


def greeting(user):
    first = user["name"].split()[0]
    return "Hello " + first


def handler(event, context):
    return {"statusCode": 200, "body": greeting(event["user"])}
'''
TESTS = '''from profiles.app import greeting


def test_greeting():
    assert greeting({"name": "Ada Lovelace"}) == "Hello Ada"
'''
UNITTEST = '''import unittest

from profiles.app import greeting


class GreetingTest(unittest.TestCase):
    def test_greeting(self):
        self.assertEqual(greeting({"name": "Ada Lovelace"}), "Hello Ada")
'''
MOVES = ('<<<<<<< SEARCH profiles/app.py\n    first = user["name"].split()[0]\n=======\n'
         '    first = user.get("name", "").split()[0]\n>>>>>>> REPLACE\n')
FIXES = ('<<<<<<< SEARCH profiles/app.py\n    first = user["name"].split()[0]\n=======\n'
         '    parts = (user.get("name") or "").split()\n    first = parts[0] if parts else "there"\n'
         '>>>>>>> REPLACE\n')


def record() -> ErrorRecord:
    return ErrorRecord(fingerprint="f" * 32, exc_type="KeyError", message="'name'", frames=[
        FrameRef(file="profiles/app.py", function="handler", line=10,
                 source='return {"statusCode": 200, "body": greeting(event["user"])}'),
        FrameRef(file="profiles/app.py", function="greeting", line=5,
                 source='first = user["name"].split()[0]'),
    ], sample_trace="Traceback ...\nKeyError: 'name'")


def setup(tmp_path: Path, tests: str = TESTS) -> tuple[LocalGitRepository, str, FixContext, Settings]:
    root = make_work_repo(tmp_path / "svc", files={"profiles/__init__.py": "", "profiles/app.py": APP,
                                                   "tests/test_app.py": tests})
    repo = LocalGitRepository(root)
    rev = repo.resolve()
    settings = Settings(test_command=["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                        test_timeout_seconds=120.0)
    inputs = [make_input({"user": {"id": "u-1", "email": "ada@example.com"}}, "powertools", "rid-1")]
    return repo, rev, build_context(record(), repo, rev, settings=settings, inputs=inputs), settings


def test_context_carries_replay_regression_test_and_test_pattern(tmp_path: Path) -> None:
    _, _, ctx, _ = setup(tmp_path)
    assert ctx.entry == "profiles.app.handler"
    assert ctx.recorded_inputs == ['{"user":{"id":"u-1","email":"[REDACTED:email]"}}']
    assert ctx.test_pattern_path == "tests/test_app.py"
    assert ctx.test_imports == ["from profiles.app import greeting"]
    assert ctx.regression_test_path == "tests/test_selfheal_ffffffffffff.py" == ctx.new_test_path
    assert "from profiles.app import handler" in ctx.regression_test
    assert "def test_selfheal_ffffffffffff_recorded_inputs_do_not_raise" in ctx.regression_test
    assert "SELFHEAL-REPLAY" in ctx.reproduction


def test_unittest_repositories_get_a_testcase(tmp_path: Path) -> None:
    _, _, ctx, _ = setup(tmp_path, UNITTEST)
    assert "class TestSelfhealffffffffffff(unittest.TestCase)" in ctx.regression_test


def test_real_fix_is_verified_by_replay_and_ships_the_regression_test(tmp_path: Path) -> None:
    repo, rev, ctx, settings = setup(tmp_path)
    proposal = with_regression_test(parse_reply(FIXES, ctx.offered_files), ctx)
    assert proposal.edits[-1].path == ctx.regression_test_path
    report = validate_candidate(repo, rev, ctx, proposal, settings, cache=BaselineCache())
    assert report.valid and report.verified, report.feedback
    checks = {c["kind"]: c for c in report.gates[-1].evidence["checks"]}
    assert checks["recorded_input"]["reproduces"] and checks["recorded_input"]["verifies"]
    assert checks["regression_test"]["verifies"]  # the shipped test fails before with KeyError, passes after


def test_moving_the_exception_is_a_contradiction_fed_back(tmp_path: Path) -> None:
    repo, rev, ctx, settings = setup(tmp_path)
    proposal = parse_reply(MOVES, ctx.offered_files)  # KeyError becomes IndexError one call later
    report = validate_candidate(repo, rev, ctx, proposal, settings, cache=BaselineCache())
    assert not report.valid and report.failed_gate == "reproduction"
    assert "moving the exception is not a fix" in report.feedback
    assert "IndexError at profiles/app.py in greeting" in report.feedback


def test_replay_that_raises_another_error_before_does_not_reproduce(tmp_path: Path) -> None:
    repo, rev, ctx, settings = setup(tmp_path)
    other = build_context(record().model_copy(update={"exc_type": "TypeError"}), repo, rev, settings=settings,
                          inputs=[make_input({"user": {"id": "u-1"}}, "print")])
    report = validate_candidate(repo, rev, other, parse_reply(FIXES, ctx.offered_files),
                                settings.model_copy(update={"unverified": "draft"}), cache=BaselineCache())
    check = next(c for c in report.gates[-2].evidence["checks"] if c["kind"] == "recorded_input")
    assert check["failed_before"] and not check["reproduces"]
    assert "not with TypeError" in check["detail"]


@pytest.mark.parametrize("event_text", ['{"user":"\'\'\'); import os; os.system(\'x\') #"}'])
def test_hostile_event_stays_data(tmp_path: Path, event_text: str) -> None:
    import json

    repo, rev, _, settings = setup(tmp_path)
    ctx = build_context(record(), repo, rev, settings=settings,
                        inputs=[make_input(json.loads(event_text), "print")])
    compiled = compile(ctx.reproduction, "replay", "exec")  # still one valid module
    assert "os.system" not in {c for c in compiled.co_names}


def test_a_regression_after_an_earlier_fix_gets_a_new_test_name(tmp_path: Path) -> None:
    from selfheal.domain.redact import Redactor
    from selfheal.domain.reproduce import reproduction_fields

    files = ["profiles/__init__.py", "profiles/app.py", "tests/test_app.py",
             "tests/test_selfheal_ffffffffffff.py"]
    fields = reproduction_fields(record(), [make_input({"user": {}}, "print")], [(0, "profiles/app.py")],
                                 files, lambda p: APP if p == "profiles/app.py" else TESTS, Redactor())
    assert fields["regression_test_path"] == "tests/test_selfheal_ffffffffffff_2.py"
