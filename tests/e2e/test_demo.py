"""``selfheal demo`` end to end, as a user runs it: the console script in a temporary directory.

Asserts on what it leaves behind, not on what it prints: the fix branch in the demo repository,
the handler change in its commit, the service's own tests on main and on the branch, the error
store and the PR record.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

SELFHEAL = Path(sys.executable).with_name("selfheal")
ORDER_ITEMS_CASES = {"0003-POST-/orders", "0008-POST-/orders", "0012-POST-/orders"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo,
                          capture_output=True, text=True, check=True, timeout=60).stdout


def failing_tests(tree: Path, tmp: Path) -> tuple[set[str], int]:
    """Run the service's test suite in ``tree``; (ids of failed tests, number of tests run)."""
    junit = tmp / f"junit-{tree.name}.xml"
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"],
                   cwd=tree, capture_output=True, text=True, env=env, timeout=120, check=False)
    cases = ET.parse(junit).getroot().iter("testcase")
    failed, total = set(), 0
    for case in cases:
        total += 1
        if case.find("failure") is not None or case.find("error") is not None:
            name = case.get("name", "")
            failed.add(name[name.index("[") + 1:-1] if "[" in name else name)
    return failed, total


def worktree(repo: Path, ref: str, where: Path) -> Path:
    git(repo, "worktree", "add", "-q", "--detach", str(where), ref)
    return where


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path_factory.mktemp("demo") / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELFHEAL_")}
    out = subprocess.run([str(SELFHEAL), "demo", "--dir", str(root), "--json"], capture_output=True,
                         text=True, env=env, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def key_error_fix(result: dict[str, Any]) -> dict[str, Any]:
    fixes = [f for f in result["fixes"] if f["exc_type"] == "KeyError" and "order_items" in f["message"]]
    assert len(fixes) == 1, result["fixes"]
    return fixes[0]


def test_the_service_crashed_and_its_errors_were_grouped(demo: dict[str, Any]) -> None:
    assert demo["requests"] == 14 and demo["crashes"] == 8
    assert demo["tracebacks"] == 8 and demo["errors_found"] == 5 and demo["duplicates"] == 3
    errors = {e["fingerprint"]: e for e in demo["errors"]}
    fix = key_error_fix(demo)
    assert errors[fix["fingerprint"]]["count"] == 3
    assert errors[fix["fingerprint"]]["status"] == "PR_OPEN"
    assert {e["exc_type"] for e in demo["errors"]} == {"KeyError", "IndexError", "AttributeError",
                                                       "ZeroDivisionError"}


def test_the_fix_went_through_every_state_of_the_workflow(demo: dict[str, Any]) -> None:
    fix = key_error_fix(demo)
    assert fix["status"] == "PR_OPEN"
    assert [s["state"] for s in fix["path"]] == ["FetchSource", "BuildPrompt", "InvokeModel", "ValidatePatch",
                                                 "CommitBranch", "OpenPullRequest", "MarkDone"]
    assert all(s["outcome"] == "succeeded" for s in fix["path"])
    assert fix["execution_name"] == fix["fingerprint"][:12] + "-1"


def test_the_branch_exists_and_its_commit_changes_the_handler(demo: dict[str, Any]) -> None:
    repo, fix = Path(demo["repo"]), key_error_fix(demo)
    branch = fix["branch"]
    assert branch == "selfheal/" + fix["fingerprint"][:12]
    git(repo, "rev-parse", "--verify", f"refs/heads/{branch}")
    assert git(repo, "rev-parse", f"{branch}~1") == git(repo, "rev-parse", "main")  # one commit on main
    # the fix, and the replay of the recorded requests as the regression test that ships with it
    regression = f"tests/test_selfheal_{fix['fingerprint'][:12]}.py"
    assert git(repo, "diff", "--name-only", "main", branch).split() == ["orders/handler.py", regression]
    assert "from orders.handler import route" in git(repo, "show", f"{branch}:{regression}")
    diff = git(repo, "diff", "main", branch, "--", "orders/handler.py")
    assert '-    for entry in order["order_items"]:' in diff
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == "main"  # the checkout is untouched
    assert git(repo, "status", "--porcelain").strip() == ""  # logs/ and caches are ignored
    assert (repo / ".gitignore").is_file() and not (repo / "gitignore").exists()


def test_the_services_tests_fail_before_and_pass_on_the_branch(demo: dict[str, Any], tmp_path: Path) -> None:
    repo, fix = Path(demo["repo"]), key_error_fix(demo)
    before, total_before = failing_tests(worktree(repo, "main", tmp_path / "main"), tmp_path)
    after, total_after = failing_tests(worktree(repo, fix["branch"], tmp_path / "branch"), tmp_path)
    assert total_before + 1 == total_after > 20  # + the shipped regression test
    assert before >= ORDER_ITEMS_CASES  # the recorded order_items requests crash on main
    assert not ORDER_ITEMS_CASES & after  # ... and are answered on the branch
    assert after < before  # nothing new fails; only the other errors' cases remain
    assert fix["verified"] is True
    # verified by replaying the three requests logged with the crash against the entry frame
    replay = next(c for c in fix["reproductions"] if c["kind"] == "recorded_input")
    assert replay["reproduces"] and replay["verifies"]
    shipped = next(c for c in fix["reproductions"] if c["kind"] == "regression_test")
    assert shipped["verifies"]
    traffic = "tests/test_recorded_traffic.py::test_recorded_request_gets_an_answer"
    assert set(fix["newly_passing"]) == {f"{traffic}[{c}]" for c in ORDER_ITEMS_CASES}


def test_with_every_fix_merged_only_the_abstained_error_still_fails(demo: dict[str, Any],
                                                                    tmp_path: Path) -> None:
    repo = Path(demo["repo"])
    merged = worktree(repo, "main", tmp_path / "merged")
    branches = [f["branch"] for f in demo["fixes"] if f["status"] == "PR_OPEN"]
    assert len(branches) >= 4
    for branch in branches:
        git(merged, "merge", "-q", "--no-edit", branch)
    failed, _ = failing_tests(merged, tmp_path)
    abstained = [f for f in demo["fixes"] if f["status"] != "PR_OPEN"]
    assert len(failed) == len(abstained)  # one recorded request per unfixed error
    assert all(f["reasons"] for f in abstained)


def test_the_pr_record_names_the_error(demo: dict[str, Any]) -> None:
    fix = key_error_fix(demo)
    pr = next(p for p in demo["prs"] if p["branch"] == fix["branch"])
    assert pr["state"] == "open" and pr["draft"] is True and pr["base"] == "main"
    record = json.loads((Path(demo["home"]) / "prs" / f"{pr['number']}.json").read_text())
    assert "KeyError" in record["body"] and "'order_items'" in record["body"]
    assert fix["fingerprint"] in record["body"]
    assert "orders/handler.py" in record["body"]
    assert record["head"] == git(Path(demo["repo"]), "rev-parse", fix["branch"]).strip()
    assert (Path(demo["home"]) / "prs" / f"{pr['number']}.md").is_file()


def test_the_readmes_watch_after_the_demo_records_nothing_again(demo: dict[str, Any]) -> None:
    """Issue #12: `selfheal watch LOG --repo REPO` on the demo's log (its home) adds no error and
    counts no occurrence twice: the same fingerprints (v2 ignores where the repo sits) and the
    file cursor the demo left at the end of the log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELFHEAL_")}
    home = ["--home", demo["home"]]
    before = json.loads(subprocess.run([str(SELFHEAL), "errors", *home, "--json"], capture_output=True,
                                       text=True, env=env, timeout=120, check=True).stdout)
    proc = subprocess.Popen([str(SELFHEAL), "watch", demo["log"], "--repo", demo["repo"], *home,
                             "--sync-prs", "0", "--poll", "0.1", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    # with --json, people's lines go to stderr: "watching" once set up (its signal handler in place)
    while not (line := proc.stderr.readline()).startswith("watching "):
        assert line, "watch ended before it started"
    time.sleep(1)  # several polls of the log
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    stats = json.loads(out.strip().splitlines()[-1])
    assert (stats["tracebacks"], stats["new_errors"], stats["fixes_started"]) == (0, 0, 0)
    after = json.loads(subprocess.run([str(SELFHEAL), "errors", *home, "--json"], capture_output=True,
                                      text=True, env=env, timeout=120, check=True).stdout)
    assert {e["fingerprint"]: e["count"] for e in after} == {e["fingerprint"]: e["count"] for e in before}
    assert len(before) == demo["errors_found"]
