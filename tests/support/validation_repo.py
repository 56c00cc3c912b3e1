"""A small real git project for validation tests: a ``calc`` package with a ZeroDivisionError
in ``average([])``, a few passing tests, and helpers to build contexts and replies."""

from __future__ import annotations

from pathlib import Path

from selfheal.adapters.local_git import LocalGitRepository
from selfheal.domain.edit_format import parse_reply
from selfheal.domain.fixing import EditProposal, FixContext
from selfheal.settings import Settings
from tests.support.git_repos import git, make_work_repo

STATS_PY = '''\
def average(values):
    return sum(values) / len(values)


def median(values):
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2
'''

TEST_STATS_PY = '''\
from calc.stats import average, median


def test_average():
    assert average([1, 2, 3]) == 2


def test_median_odd():
    assert median([3, 1, 2]) == 2


def test_median_even():
    assert median([4, 1, 3, 2]) == 2.5
'''

PROJECT = {
    "calc/__init__.py": "",
    "calc/stats.py": STATS_PY,
    "tests/__init__.py": "",
    "tests/test_stats.py": TEST_STATS_PY,
}

GOOD_REPLY = '''\
ROOT CAUSE: average divides by len(values), which is zero for an empty list.
SUMMARY: return 0.0 for an empty list
<<<<<<< SEARCH calc/stats.py
    return sum(values) / len(values)
=======
    if not values:
        return 0.0
    return sum(values) / len(values)
>>>>>>> REPLACE
<<<<<<< SEARCH tests/test_average_empty.py
=======
from calc.stats import average


def test_average_of_empty_list_is_zero():
    assert average([]) == 0.0
>>>>>>> REPLACE
'''

FIX_ONLY_REPLY = GOOD_REPLY.split("<<<<<<< SEARCH tests/")[0]

TRACE = '''Traceback (most recent call last):
  File "/app/calc/stats.py", line 2, in average
    return sum(values) / len(values)
ZeroDivisionError: division by zero
'''


def make_project(root: Path, extra: dict[str, str] | None = None) -> Path:
    """A committed git repository holding ``PROJECT`` plus ``extra`` files."""
    return make_work_repo(root, files={**PROJECT, **(extra or {})})


def commit_all(repo: Path, message: str = "more") -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def open_repo(path: Path) -> tuple[LocalGitRepository, str]:
    repo = LocalGitRepository(path)
    return repo, repo.resolve("HEAD")


def context(offered: list[str] | None = None, reproduction: str = "") -> FixContext:
    return FixContext(fingerprint="f" * 64, exc_type="ZeroDivisionError", message="division by zero",
                      trace=TRACE, offered_files=offered if offered is not None else ["calc/stats.py"],
                      reproduction=reproduction)


def proposal(reply: str, offered: list[str] | None = None) -> EditProposal:
    return parse_reply(reply, offered if offered is not None else ["calc/stats.py"])


def settings(**overrides: object) -> Settings:
    # These tests look at the gates' verdicts, so unverified patches stay valid drafts here; the
    # default (abstain) is tested where the policy is (test_unverified_patch_is_draft_or_abstain).
    base: dict[str, object] = {"test_command": ["python", "-m", "pytest", "-q"],
                               "test_timeout_seconds": 120.0, "unverified": "draft"}
    base.update(overrides)
    return Settings.model_validate(base)
