"""The fix workflow end to end through the real CLI: a git repository, the SQLite store, the
offline rules fixer, real validation (the service's tests), the ASL in moto's interpreter, a fix
branch and a PR record; then the execution history, its drawing, and a re-drive."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from selfheal.compose.store import build_ingest_service, build_local_store
from selfheal.settings import load_settings
from tests.support.git_repos import git, make_work_repo

HANDLER = '''"""Order handler."""


def total(event):
    items = event["order_items"]
    return sum(i["price"] * i["qty"] for i in items)


def depth(node):
    return 1 + depth(node)


def handle(event, context=None):
    return {"statusCode": 200, "total": total(event)}
'''
TESTS = '''from orders.handler import handle


def test_total():
    assert handle({"order_items": [{"price": 2, "qty": 3}]})["total"] == 6
'''
RID = "6a1f0c52-93de-4d0e-8d62-1b7c0e9f2a10"
# A Lambda log stream (runtime text format): the blueprint-style event line pairs the traceback
# with its input, so the fix is verified by replaying it.
KEYERROR_EVENT_LOG = (f"START RequestId: {RID} Version: $LATEST\n"
                      f'[INFO]\t2026-11-29T10:00:00.000Z\t{RID}\tReceived event: {{"customer": "c-7"}}\n'
                      f"[ERROR]\t2026-11-29T10:00:00.002Z\t{RID}\trequest failed\n")
KEYERROR_LOG = '''2026-11-29 10:00:00 ERROR request failed
Traceback (most recent call last):
  File "/var/task/orders/handler.py", line 14, in handle
    return {"statusCode": 200, "total": total(event)}
  File "/var/task/orders/handler.py", line 5, in total
    items = event["order_items"]
KeyError: 'order_items'
'''
KEYERROR_EVENT_LOG += "\n".join(KEYERROR_LOG.splitlines()[1:]) + f"\nEND RequestId: {RID}\n"
RECURSION_LOG = '''Traceback (most recent call last):
  File "/var/task/orders/handler.py", line 10, in depth
    return 1 + depth(node)
  File "/var/task/orders/handler.py", line 10, in depth
    return 1 + depth(node)
RecursionError: maximum recursion depth exceeded
'''
SELFHEAL = str(Path(sys.executable).with_name("selfheal"))


def cli(*args: str, home: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELFHEAL_")}
    proc = subprocess.run([SELFHEAL, *args, "--home", str(home)], capture_output=True, text=True,
                          timeout=300, env=env)
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def service(tmp_path: Path) -> tuple[Path, Path]:
    repo = make_work_repo(tmp_path / "repo", files={"orders/__init__.py": "", "orders/handler.py": HANDLER,
                                                     "tests/test_handler.py": TESTS})
    return repo, tmp_path / "home"


def ingest(home: Path, repo: Path, text: str) -> str:
    settings = load_settings({"home": home, "repo": repo}, env={})
    service = build_ingest_service(settings, build_local_store(settings))
    report = service.ingest_lines(text.splitlines(), "app.log")
    assert len(report.new) == 1
    return str(report.new[0])


@pytest.mark.timeout(600)
def test_fix_opens_a_branch_and_pr_record_then_history_and_drawing(service: tuple[Path, Path],
                                                                   tmp_path: Path) -> None:
    repo, home = service
    fp = ingest(home, repo, KEYERROR_EVENT_LOG)
    head_before = git(repo, "rev-parse", "HEAD")

    run = cli("fix", fp[:10], "--repo", str(repo), home=home)
    for state in ("FetchSource", "BuildPrompt", "InvokeModel", "ValidatePatch", "CommitBranch",
                  "OpenPullRequest", "MarkDone"):
        assert f"✓ {state}" in run.stdout
    assert "PR_OPEN" in run.stdout
    assert "SUCCEEDED" not in run.stdout  # the error's outcome, not the engine's status

    branch = f"selfheal/{fp[:12]}"
    diff = git(repo, "diff", f"main...{branch}", "--", "orders/handler.py")
    assert '-    items = event["order_items"]' in diff and ".get(" in diff
    # the replay of the recorded event ships as the regression test, in the repository's style
    regression = f"tests/test_selfheal_{fp[:12]}.py"
    assert git(repo, "diff", "--name-only", f"main...{branch}").split() == ["orders/handler.py", regression]
    shipped = git(repo, "show", f"{branch}:{regression}")
    assert "from orders.handler import handle" in shipped and '{"customer":"c-7"}' in shipped
    shown = cli("errors", "show", fp[:12], home=home).stdout
    assert "captured inputs: 1" in shown and f'runtime {RID}: {{"customer":"c-7"}}' in shown
    assert git(repo, "rev-parse", "HEAD") == head_before  # the user's checkout is untouched
    assert git(repo, "status", "--porcelain") == ""

    listed = json.loads(cli("executions", "--json", home=home).stdout)
    assert [(e["execution"], e["outcome"]) for e in listed] == [(f"{fp[:12]}-1", "pr_open")]

    # durations from one source: `fix` prints the recorded ones, as `executions show` does
    recorded = json.loads(cli("executions", "show", f"{fp[:12]}-1", "--json", home=home).stdout)["path"]
    for view in recorded:
        row = rf"{view['state']}\s*│\s*{view['outcome']}\s*│\s*{view['duration_ms']}\b"
        assert re.search(row, run.stdout), (view, run.stdout)

    svg = tmp_path / "run.svg"
    shown = cli("executions", "show", f"{fp[:12]}-1", "--svg", str(svg), home=home)
    assert "ValidatePatch" in shown.stdout and "succeeded" in shown.stdout
    drawing = svg.read_text()
    assert drawing.startswith("<svg") and 'data-state="MarkDone" data-status="succeeded"' in drawing
    assert 'data-state="RecordFailure" data-status="not visited"' in drawing


@pytest.mark.timeout(600)
def test_abstained_fix_is_redriven_and_bad_redrives_are_refused(service: tuple[Path, Path]) -> None:
    repo, home = service
    fp = ingest(home, repo, RECURSION_LOG)

    abstained = cli("fix", fp, "--repo", str(repo), "--json", home=home, ok=False)
    assert abstained.returncode == 3, abstained.stderr  # issue 13: exit code follows the outcome
    first = json.loads(abstained.stdout)
    assert first["status"] == "ABSTAINED" and first["reasons"]

    refused = cli("redrive", fp, "--repo", str(repo), "--from-state", "OpenPullRequest", home=home, ok=False)
    assert refused.returncode == 1 and "no recorded run of OpenPullRequest" in refused.stderr
    assert "Traceback" not in refused.stderr

    redriven = cli("redrive", fp, "--repo", str(repo), "--json", home=home, ok=False)
    assert redriven.returncode == 3, redriven.stderr
    again = json.loads(redriven.stdout)
    assert again["status"] == "ABSTAINED" and again["attempt"] == 2
    assert again["path"][0]["state"] == "FetchSource"

    shown = json.loads(cli("executions", "show", f"{fp[:12]}-2", "--json", home=home).stdout)
    assert shown["attempt"]["outcome"] == "abstained" and shown["path"][-1]["state"] == "RecordAbstain"


@pytest.mark.timeout(600)
def test_without_a_recorded_input_the_unverified_fix_abstains_and_keeps_the_patch(
        service: tuple[Path, Path]) -> None:
    """Verified or no PR, by default: the same crash logged without its event gets no PR; the
    suggested patch and the reason stay on the error."""
    repo, home = service
    fp = ingest(home, repo, KEYERROR_LOG)
    fix = cli("fix", fp, "--repo", str(repo), home=home, ok=False)
    assert fix.returncode == 3, fix.stdout + fix.stderr
    assert "selfheal/" not in git(repo, "branch", "--list")
    shown = cli("errors", "show", fp[:12], home=home).stdout
    assert "ABSTAINED" in shown and "captured inputs: none" in shown
    record = json.loads(cli("errors", "show", fp[:12], "--json", home=home).stdout)
    reasons = record["attempts"][-1]["reasons"]
    assert any("no test checks the claim" in r for r in reasons)
    kept = next(r for r in reasons if r.startswith("suggested patch kept"))
    diff = Path(kept.rsplit(": ", 1)[1]).read_text()
    assert '-    items = event["order_items"]' in diff and ".get(" in diff
    execution = cli("executions", "show", f"{fp[:12]}-1", home=home).stdout
    assert "suggested patch kept" in execution
