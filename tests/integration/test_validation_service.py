"""validate_candidate end to end on real git repositories, with hostile edits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from selfheal.adapters.local_git import LocalGitRepository
from selfheal.domain.fixing import EditProposal, FixContext, SearchReplace
from selfheal.domain.validation_report import ValidationReport
from selfheal.validation.service import BaselineCache, validate_candidate
from tests.support import validation_repo as vr
from tests.support.git_repos import git

FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKEKEYFORTESTS"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return vr.make_project(tmp_path / "proj")


def check(repo: LocalGitRepository, rev: str, proposal: EditProposal, ctx: FixContext | None = None,
          **overrides: object) -> ValidationReport:
    """validate_candidate with a fresh cache and the test settings."""
    return validate_candidate(repo, rev, ctx or vr.context(), proposal, vr.settings(**overrides),
                              cache=BaselineCache())


def gate_names(report: object) -> list[str]:
    return [g.gate for g in report.gates]  # type: ignore[attr-defined]


def test_good_patch_is_valid_and_verified_by_its_regression_test(project: Path) -> None:
    repo, rev = vr.open_repo(project)
    status_before = git(project, "status", "--porcelain")
    report = validate_candidate(repo, rev, vr.context(), vr.proposal(vr.GOOD_REPLY), vr.settings(),
                                cache=BaselineCache())
    assert report.valid and report.verified, report.feedback
    assert report.failed_gate is None and report.feedback == ""
    assert gate_names(report) == ["non_empty", "allowed_files", "inside_repo", "deny_list", "size",
                                  "no_test_deletion", "app_code", "applies", "parses", "lint", "tests",
                                  "reproduction"]
    assert report.tests_before is not None and report.tests_before.passed == 3
    assert report.tests_after is not None and report.tests_after.passed == 4
    assert report.newly_failing == [] and report.missing_tests == []
    repro = report.gates[-1].evidence["checks"][0]
    assert repro == {"kind": "regression_test", "target": "tests/test_average_empty.py",
                     "failed_before": True, "passed_after": True, "shows_error": True,
                     "reproduces": True, "verifies": True,
                     "detail": "fails before the patch, passes after"}
    # With no cached baseline, the regression test ran inside the run before the patch (one
    # process fewer): that run failed because of it alone, showing the error.
    assert ("reproduction before: tests/test_average_empty.py ran within the tests before the patch "
            "(its results are not part of that baseline)") in report.sandbox_notes
    repro_before = [c for c in report.commands if c.label == "tests before"]
    assert repro_before and repro_before[0].exit_code == 1
    assert "ZeroDivisionError" in repro_before[0].output_tail
    assert report.tests_before.failing_tests == []
    # The user's checkout is untouched, and no temporary worktree is left behind.
    assert git(project, "status", "--porcelain") == status_before
    assert len(git(project, "worktree", "list", "--porcelain").split("worktree ")) == 2
    assert (project / "calc" / "stats.py").read_text() == vr.STATS_PY


def test_recorded_failing_input_verifies_a_fix_without_a_new_test(project: Path) -> None:
    repo, rev = vr.open_repo(project)
    script = "from calc.stats import average\nprint(average([]))\n"
    report = validate_candidate(repo, rev, vr.context(reproduction=script), vr.proposal(vr.FIX_ONLY_REPLY),
                                vr.settings(), cache=BaselineCache())
    assert report.valid and report.verified
    repro = report.gates[-1].evidence["checks"][0]
    assert repro["kind"] == "recorded_input" and repro["failed_before"] and repro["passed_after"]
    assert repro["shows_error"]


def test_regression_test_failing_for_another_reason_does_not_verify(project: Path) -> None:
    # The test imports a helper the patch adds: before the patch it fails with ImportError,
    # which says nothing about the ZeroDivisionError being fixed.
    reply = ("<<<<<<< SEARCH calc/stats.py\n    return sum(values) / len(values)\n=======\n"
             "    return sum(values) / len(values)\n\n\ndef safe_average(values):\n"
             "    return average(values) if values else 0.0\n>>>>>>> REPLACE\n"
             "<<<<<<< SEARCH tests/test_safe.py\n=======\nfrom calc.stats import safe_average\n\n\n"
             "def test_safe():\n    assert safe_average([]) == 0.0\n>>>>>>> REPLACE\n")
    report = check(*vr.open_repo(project), vr.proposal(reply))
    assert report.valid and not report.verified
    repro = report.gates[-2].evidence["checks"][0]
    assert repro["failed_before"] and repro["passed_after"] and not repro["reproduces"]
    assert "does not show ZeroDivisionError" in repro["detail"]


def test_unverified_patch_is_draft_or_abstain(project: Path) -> None:
    repo, rev = vr.open_repo(project)
    cache = BaselineCache()
    draft = validate_candidate(repo, rev, vr.context(), vr.proposal(vr.FIX_ONLY_REPLY), vr.settings(),
                               cache=cache)
    assert draft.valid and not draft.verified
    assert draft.gates[-1].gate == "verified" and "draft" in draft.gates[-1].detail
    abstain = validate_candidate(repo, rev, vr.context(), vr.proposal(vr.FIX_ONLY_REPLY),
                                 vr.settings(unverified="abstain"), cache=cache)
    assert not abstain.valid and abstain.failed_gate == "verified"
    assert "regression test" in abstain.feedback
    # The second validation of the same revision reused the baseline run.
    assert "tests before the patch: reused from the baseline cache" in abstain.sandbox_notes


def test_patch_that_breaks_another_test_fails_with_its_output(project: Path) -> None:
    repo, rev = vr.open_repo(project)
    reply = ("<<<<<<< SEARCH calc/stats.py\n    return (ordered[mid - 1] + ordered[mid]) / 2\n=======\n"
             "    return ordered[mid]\n>>>>>>> REPLACE\n")
    report = check(repo, rev, vr.proposal(reply))
    assert not report.valid and report.failed_gate == "tests"
    assert report.newly_failing == ["tests/test_stats.py::test_median_even"]
    assert "test_median_even" in report.feedback and "assert" in report.feedback
    assert report.tests_before is not None and report.tests_before.failed == 0


def test_previously_failing_test_that_passes_counts_for_the_patch(project: Path) -> None:
    (project / "tests" / "test_empty.py").write_text(
        "from calc.stats import average\n\n\ndef test_empty():\n    assert average([]) == 0.0\n")
    rev = vr.commit_all(project, "a failing test")
    repo, _ = vr.open_repo(project)
    report = validate_candidate(repo, rev, vr.context(), vr.proposal(vr.FIX_ONLY_REPLY), vr.settings(),
                                cache=BaselineCache())
    assert report.valid and report.verified
    assert report.newly_passing == ["tests/test_empty.py::test_empty"]
    assert report.tests_before is not None and report.tests_before.failing_tests == report.newly_passing


def test_test_run_that_hangs_past_the_timeout(project: Path) -> None:
    repo, rev = vr.open_repo(project)
    reply = ("<<<<<<< SEARCH calc/stats.py\n    return sum(values) / len(values)\n=======\n"
             "    while not values:\n        pass\n    return sum(values) / len(values)\n>>>>>>> REPLACE\n"
             "<<<<<<< SEARCH tests/test_hang.py\n=======\nfrom calc.stats import average\n\n\n"
             "def test_empty():\n    assert average([]) == 0\n>>>>>>> REPLACE\n")
    report = validate_candidate(repo, rev, vr.context(), vr.proposal(reply),
                                vr.settings(test_timeout_seconds=4), cache=BaselineCache())
    assert not report.valid and report.failed_gate == "tests"
    after = report.commands[-1]
    assert after.timed_out and after.exit_code is None
    assert "timed out" in report.gates[-1].detail and "timed out" in report.feedback


def test_tests_in_the_sandbox_cannot_read_aws_keys(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKE")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_fakefakefake")
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == FAKE_SECRET
    reply = vr.GOOD_REPLY + ("<<<<<<< SEARCH tests/test_env_leak.py\n=======\nimport os\n\n\n"
                             "def test_no_credentials_visible():\n"
                             "    found = {k: v for k, v in os.environ.items()\n"
                             "             if k.startswith(('AWS_', 'GITHUB_')) or 'FAKEKEY' in v}\n"
                             "    print('FOUND', found)\n"
                             "    assert found == {}\n>>>>>>> REPLACE\n")
    report = validate_candidate(repo := vr.open_repo(project)[0], repo.resolve("HEAD"), vr.context(),
                                vr.proposal(reply), vr.settings(), cache=BaselineCache())
    assert report.valid, report.feedback
    assert report.tests_after is not None and report.tests_after.passed == 5
    assert all(FAKE_SECRET not in c.output_tail for c in report.commands)


def test_symlink_escape_is_rejected_before_anything_runs(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("TOKEN = 'x'\n")
    project = vr.make_project(tmp_path / "proj")
    (project / "calc" / "config.py").symlink_to(outside / "secret.py")
    (project / "plugins").symlink_to(outside, target_is_directory=True)
    rev = vr.commit_all(project, "symlinks")
    repo, _ = vr.open_repo(project)
    for path in ("calc/config.py", "plugins/secret.py"):
        edit = SearchReplace(path=path, search="TOKEN = 'x'\n", replace="TOKEN = 'y'\n")
        report = check(repo, rev, EditProposal(edits=[edit]), vr.context([path]))
        assert not report.valid and report.failed_gate == "inside_repo", path
        assert "symlink" in report.gates[-1].detail and report.commands == []
    assert (outside / "secret.py").read_text() == "TOKEN = 'x'\n"


def test_path_traversal_is_rejected(project: Path, tmp_path: Path) -> None:
    repo, rev = vr.open_repo(project)
    hostile = EditProposal(edits=[SearchReplace(path="tests/../../evil/test_x.py", search="",
                                                replace="import os\nos.system('id')\n")])
    report = check(repo, rev, hostile)
    assert not report.valid and report.failed_gate == "inside_repo"
    assert not (tmp_path / "evil").exists()


def test_ci_config_edit_is_rejected_even_when_offered(project: Path) -> None:
    (project / ".github" / "workflows").mkdir(parents=True)
    (project / ".github" / "workflows" / "ci.yml").write_text("on: push\njobs: {}\n")
    rev = vr.commit_all(project, "ci")
    repo, _ = vr.open_repo(project)
    reply = ("<<<<<<< SEARCH .github/workflows/ci.yml\non: push\n=======\non: [push, pull_request_target]\n"
             ">>>>>>> REPLACE\n")
    offered = ["calc/stats.py", ".github/workflows/ci.yml"]
    report = validate_candidate(repo, rev, vr.context(offered), vr.proposal(reply, offered), vr.settings(),
                                cache=BaselineCache())
    assert not report.valid and report.failed_gate == "deny_list"
    not_offered = validate_candidate(repo, rev, vr.context(), vr.proposal(reply, offered), vr.settings(),
                                     cache=BaselineCache())
    assert not_offered.failed_gate == "allowed_files"


def test_edit_that_deletes_tests_is_rejected(project: Path) -> None:
    repo, rev = vr.open_repo(project)
    offered = ["calc/stats.py", "tests/test_stats.py"]
    reply = ("<<<<<<< SEARCH tests/test_stats.py\n\n\ndef test_median_even():\n"
             "    assert median([4, 1, 3, 2]) == 2.5\n=======\n>>>>>>> REPLACE\n")
    report = validate_candidate(repo, rev, vr.context(offered), vr.proposal(reply, offered), vr.settings(),
                                cache=BaselineCache())
    assert not report.valid and report.failed_gate == "no_test_deletion"
    assert "test_median_even removed" in report.feedback


def test_syntax_break_and_undefined_name(project: Path) -> None:
    repo, rev = vr.open_repo(project)
    broken = ("<<<<<<< SEARCH calc/stats.py\n    return sum(values) / len(values)\n=======\n"
              "    return sum(values) / len(values\n>>>>>>> REPLACE\n")
    report = check(repo, rev, vr.proposal(broken))
    assert report.failed_gate == "parses" and "calc/stats.py: line" in report.feedback
    undefined = ("<<<<<<< SEARCH calc/stats.py\n    return sum(values) / len(values)\n=======\n"
                 "    return sum(values) / max(len(values), DEFAULT_COUNT)\n>>>>>>> REPLACE\n")
    report = validate_candidate(repo, rev, vr.context(), vr.proposal(undefined), vr.settings(),
                                cache=BaselineCache())
    assert report.failed_gate == "lint"
    assert "undefined name 'DEFAULT_COUNT'" in report.feedback
    assert report.commands == []  # no test ran for a patch that cannot import


def test_new_conftest_cannot_switch_tests_off(project: Path) -> None:
    repo, rev = vr.open_repo(project)
    hostile = EditProposal(edits=[
        SearchReplace(path="calc/stats.py", search="    return sum(values) / len(values)\n",
                      replace="    return sum(values) / (len(values) or 1)\n"),
        SearchReplace(path="tests/conftest.py", search="", replace="collect_ignore_glob = ['test_*.py']\n")])
    report = check(repo, rev, hostile)
    assert report.failed_gate == "allowed_files"


def test_tests_missing_after_the_patch_count_against_it(project: Path) -> None:
    # A new test module that deselects the others at import time: caught by comparing runs.
    repo, rev = vr.open_repo(project)
    hostile = EditProposal(edits=[
        SearchReplace(path="calc/stats.py", search="    return sum(values) / len(values)\n",
                      replace="    return sum(values) / (len(values) or 1)\n"),
        SearchReplace(path="tests/test_aaa.py", search="",
                      replace="import pathlib\n\n"
                              "pathlib.Path(__file__).with_name('test_stats.py').unlink()\n\n\n"
                              "def test_ok():\n    assert True\n")])
    report = check(repo, rev, hostile)
    assert not report.valid
    assert report.failed_gate == "tests"
    assert "tests/test_stats.py::test_median_even" in report.missing_tests


def test_a_test_that_rewrites_the_source_cannot_make_a_bogus_patch_pass(project: Path) -> None:
    # The "fix" only edits a comment; the new test module patches the source under test on
    # import so the suite (and the regression test) would pass. The tree check catches it.
    hostile = EditProposal(edits=[
        SearchReplace(path="calc/stats.py", search="def average(values):\n",
                      replace="def average(values):  # fixed\n"),
        SearchReplace(path="tests/test_aaa_fix.py", search="",
                      replace="import pathlib\n\n"
                              "src = pathlib.Path(__file__).parents[1] / 'calc' / 'stats.py'\n"
                              "old = '    return sum(values) / len(values)'\n"
                              "src.write_text(src.read_text().replace(old, old + ' if values else 0'))\n\n\n"
                              "def test_empty():\n    from calc.stats import average\n"
                              "    assert average([]) == 0\n")])
    report = check(*vr.open_repo(project), hostile)
    assert not report.valid and report.failed_gate == "tests"
    assert report.gates[-1].evidence["tampered"] == ["calc/stats.py"]
    assert "changed or deleted files of the source tree" in report.feedback


def test_regression_test_that_breaks_other_tests_is_caught_although_it_ran_with_the_baseline(
        project: Path) -> None:
    # The new module breaks median() for every later test, on both trees: had its run stood as
    # the baseline, test_median_even would fail "before" too and not count against the patch.
    reply = vr.GOOD_REPLY + ("<<<<<<< SEARCH tests/test_aab_break.py\n=======\nimport calc.stats\n\n"
                             "calc.stats.median = lambda values: None\n\n\n"
                             "def test_nothing():\n    assert True\n>>>>>>> REPLACE\n")
    repo, rev = vr.open_repo(project)
    cache = BaselineCache()
    report = validate_candidate(repo, rev, vr.context(), vr.proposal(reply), vr.settings(), cache=cache)
    assert not report.valid and report.failed_gate == "tests"
    assert "tests/test_stats.py::test_median_even" in report.newly_failing
    # The module replaces application code, so it is no reproduction and never rides along in
    # the run before the patch: the baseline holds the unpatched tree's results alone.
    assert report.tests_before is not None and report.tests_before.failing_tests == []
    assert any(n.startswith("reproduction: tests/test_aab_break.py cannot count")
               for n in report.sandbox_notes)
    cached = cache.get(rev, vr.settings().test_command)
    assert cached is not None and cached.failing == set() and "tests/test_aab_break.py::test_nothing" \
        not in (cached.outcomes or {})


def test_prime_baseline_fills_the_cache_used_by_validation(project: Path) -> None:
    from selfheal.validation.service import prime_baseline

    repo, rev = vr.open_repo(project)
    cache = BaselineCache()
    counts = prime_baseline(repo, rev, vr.settings(), cache=cache)
    assert counts is not None and counts.passed == 3 and counts.failing_tests == []
    report = validate_candidate(repo, rev, vr.context(), vr.proposal(vr.GOOD_REPLY), vr.settings(),
                                cache=cache)
    assert report.valid and report.commands[0].label == "tests before (cached)"


def test_repair_loop_runs_an_unchanged_regression_test_before_the_patch_once(project: Path) -> None:
    repo, rev = vr.open_repo(project)
    cache = BaselineCache()
    first, again = (validate_candidate(repo, rev, vr.context(), vr.proposal(vr.GOOD_REPLY), vr.settings(),
                                       cache=cache) for _ in range(2))
    assert first.valid and first.verified and again.valid and again.verified
    assert first.gates[-1].evidence == again.gates[-1].evidence
    assert ("reproduction before: tests/test_average_empty.py reused from an earlier validation "
            "(same revision, same test)") in again.sandbox_notes
    assert [c.label for c in again.commands] == ["tests before (cached)", "tests after"]
    # A changed regression test is new evidence: it runs (on its own, the baseline is cached).
    changed = vr.GOOD_REPLY.replace("average([]) == 0.0", "average([]) == 0")
    assert changed != vr.GOOD_REPLY
    third = validate_candidate(repo, rev, vr.context(), vr.proposal(changed), vr.settings(), cache=cache)
    assert third.valid and third.verified
    assert "reproduction before: tests/test_average_empty.py" in [c.label for c in third.commands]
    assert not any("reused from an earlier" in n for n in third.sandbox_notes)
    # So is another error type: the cached run was judged against ZeroDivisionError.
    typed = vr.context().model_copy(update={"exc_type": "TypeError"})
    other = validate_candidate(repo, rev, typed, vr.proposal(vr.GOOD_REPLY), vr.settings(), cache=cache)
    assert not any("reused from an earlier" in n for n in other.sandbox_notes)


def test_regression_test_that_hangs_before_the_patch_waits_for_the_timeout_once(project: Path) -> None:
    # Before the fix average([]) always raises, so this test loops until the timeout; after it
    # the test passes at once.
    reply = vr.FIX_ONLY_REPLY + ("<<<<<<< SEARCH tests/test_retry.py\n=======\n"
                                 "from calc.stats import average\n\n\n"
                                 "def test_retry_until_it_works():\n    while True:\n        try:\n"
                                 "            assert average([]) == 0.0\n            return\n"
                                 "        except ZeroDivisionError:\n            pass\n>>>>>>> REPLACE\n")
    report = check(*vr.open_repo(project), vr.proposal(reply), test_timeout_seconds=4)
    assert report.tests_before is not None and report.tests_before.passed == 3
    repro = report.gates[-2].evidence["checks"][0]
    assert repro["failed_before"] is None and repro["passed_after"] is None
    assert repro["detail"] == "timed out before the patch (run with the tests before it)"
    hung = [c for c in report.commands if c.timed_out]
    assert [c.label for c in hung] == ["reproduction before: tests/test_retry.py (with the tests before)"]
    assert report.valid and not report.verified  # inconclusive: a draft labelled unverified
