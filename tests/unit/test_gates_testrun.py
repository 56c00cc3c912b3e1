"""Test-run plumbing without subprocesses: command preparation, JUnit parsing, run comparison,
the baseline cache, and feedback building."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from selfheal.domain.validation_report import CommandRun, GateResult, TestCounts, ValidationReport
from selfheal.validation.service import BaselineCache, build_feedback
from selfheal.validation.testrun import TestRun, compare, parse_junit, prepare_command, write_files

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
<testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py" line="3" time="0.001"/>
<testcase classname="tests.test_a.TestGroup" name="test_bad" file="tests/test_a.py" line="9" time="0.001">
  <failure message="assert 1 == 2">assert 1 == 2</failure></testcase>
<testcase classname="tests.test_a" name="test_skip" file="tests/test_a.py" line="12" time="0">
  <skipped type="pytest.skip" message="later">later</skipped></testcase>
<testcase classname="tests.test_a" name="test_teardown" file="tests/test_a.py" line="15" time="0.001"/>
<testcase classname="tests.test_a" name="test_teardown" file="tests/test_a.py" line="15" time="0.001">
  <error message="failed on teardown">boom</error></testcase>
<testcase classname="" name="tests.test_broken" time="0.000">
  <error message="collection failure">SyntaxError</error></testcase>
</testsuite></testsuites>
"""


def run(outcomes: dict[str, str] | None, code: int | None = 0, timed_out: bool = False) -> TestRun:
    return TestRun(command=CommandRun(argv=["pytest"], exit_code=code, timed_out=timed_out),
                   outcomes=outcomes)


def test_prepare_command_resolves_python_and_disables_exitfirst() -> None:
    argv = prepare_command(["python", "-m", "pytest", "-x", "-q"], Path("/tmp/r.xml"))
    assert argv[0] == sys.executable
    assert argv[1:5] == ["-m", "pytest", "-x", "-q"]
    assert argv[5:] == ["--maxfail=0", "--junitxml=/tmp/r.xml", "-o", "junit_family=xunit1"]
    assert prepare_command(["make", "test"], Path("/tmp/r.xml")) == ["make", "test"]
    assert prepare_command(["uv", "run", "pytest"], Path("/x.xml"))[3] == "--maxfail=0"
    assert prepare_command(["pytest", "tests"], None) == [sys.executable, "-m", "pytest", "tests"]
    from selfheal.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="test command is empty"):
        prepare_command([], None)


def test_parse_junit_outcomes(tmp_path: Path) -> None:
    path = tmp_path / "r.xml"
    path.write_text(JUNIT)
    assert parse_junit(path) == {
        "tests/test_a.py::test_ok": "passed",
        "tests/test_a.py::TestGroup::test_bad": "failed",
        "tests/test_a.py::test_skip": "skipped",
        "tests/test_a.py::test_teardown": "error",
        "tests.test_broken": "error",
    }
    assert parse_junit(tmp_path / "missing.xml") is None
    (tmp_path / "bad.xml").write_text("<testsuites><testcase")
    assert parse_junit(tmp_path / "bad.xml") is None


def test_counts() -> None:
    counts = run({"a": "passed", "b": "failed", "c": "error", "d": "skipped"}).counts()
    assert counts == TestCounts(passed=1, failed=1, errors=1, skipped=1, failing_tests=["b", "c"])


def test_compare_only_new_failures_count() -> None:
    before = run({"a": "passed", "b": "failed", "c": "passed"}, code=1)
    after = run({"a": "passed", "b": "failed", "c": "failed", "new": "passed"}, code=1)
    c = compare(before, after)
    assert c.newly_failing == ["c"] and c.newly_passing == [] and not c.passed


def test_compare_fixed_tests_count_for_the_patch() -> None:
    c = compare(run({"a": "passed", "b": "failed"}, code=1), run({"a": "passed", "b": "passed"}))
    assert c.passed and c.newly_passing == ["b"]


def test_compare_missing_and_newly_skipped_tests() -> None:
    before = run({"a": "passed", "b": "passed", "c": "failed"}, code=1)
    after = run({"a": "skipped"})
    c = compare(before, after)
    assert c.missing == ["a", "b", "c"] and not c.passed


def test_compare_with_caller_counts_and_without_a_baseline() -> None:
    counts = TestCounts(passed=2, failed=1, failing_tests=["b"])
    assert compare(counts, run({"a": "passed", "b": "failed", "c": "passed"}, code=1)).passed
    fewer = compare(counts, run({"a": "passed"}))
    assert not fewer.passed and fewer.missing == ["2 test(s) ran before the patch but not after"]
    none = compare(None, run({"a": "failed"}, code=1))
    assert none.newly_failing == ["a"] and not none.passed


def test_compare_timeouts_and_exit_codes() -> None:
    assert not compare(run({"a": "passed"}), run(None, code=None, timed_out=True)).passed
    assert compare(run(None, code=1), run(None, code=0)).passed
    worse = compare(run(None, code=0), run(None, code=2))
    assert not worse.passed and "succeeded before" in worse.detail


def test_write_files_never_follows_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "link").symlink_to(outside, target_is_directory=True)
    (tree / "f.py").symlink_to(outside / "f.py")
    write_files(tree, {"pkg/new/test_x.py": "x = 1\n"})
    assert (tree / "pkg" / "new" / "test_x.py").read_text() == "x = 1\n"
    from selfheal.errors import EditRejected

    for bad in ("link/test_x.py", "f.py", "../escape.py"):
        with pytest.raises(EditRejected):
            write_files(tree, {bad: "owned\n"})
    assert list(outside.iterdir()) == []


def test_baseline_cache_runs_once_per_key_even_concurrently() -> None:
    cache = BaselineCache(max_entries=2)
    calls: list[str] = []

    def slow() -> TestRun:
        calls.append("run")
        time.sleep(0.2)
        return run({"a": "passed"})

    results: list[tuple[TestRun, bool]] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_run("rev1", ["pytest"], slow)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert calls == ["run"] and sorted(flag for _, flag in results) == [False, True, True, True]
    assert cache.get("rev1", ["pytest", "-q"]) is None  # the command is part of the key
    cache.get_or_run("rev1", ["pytest", "-q"], slow)
    cache.get_or_run("rev2", ["pytest"], slow)
    assert cache.get("rev1", ["pytest"]) is None  # evicted: oldest beyond max_entries
    timed_out = run(None, code=None, timed_out=True)
    cache.put("rev3", ["pytest"], timed_out)
    assert cache.get("rev3", ["pytest"]) is None  # a run that timed out is never cached


def test_feedback_names_the_gate_and_trims_output() -> None:
    report = ValidationReport(valid=False, failed_gate="tests", gates=[
        GateResult(gate="tests", passed=False, detail="1 test(s) fail after the patch: t::x",
                   evidence={"output_tail": "x" * 10_000 + "\nE   assert 1 == 2\n"})])
    text = build_feedback(report, limit=3000)
    assert text.startswith("Your previous edit was rejected by the 'tests' check: 1 test(s) fail")
    assert len(text) <= 3000
    lint = ValidationReport(valid=False, failed_gate="lint", gates=[GateResult(
        gate="lint", passed=False, detail="a.py:3: undefined name 'y'",
        evidence={"new_findings": [{"file": "a.py", "line": 3, "kind": "UndefinedName",
                                    "message": "undefined name 'y'"}]})])
    assert "a.py:3: undefined name 'y'" in build_feedback(lint).split("New lint findings:")[1]
