"""A local ``selfheal fix`` killed with SIGKILL during ValidatePatch (the service's tests are
slow) leaves the error FIXING and a selfheal worktree registered in the user's repository. The
next ``selfheal redrive`` sweeps first: the attempt is FAILED with reason ``lost`` at
ValidatePatch (its owner process is gone), the worktree is removed, and the re-drive resumes at
ValidatePatch — the model is not asked again — and opens the PR."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from selfheal.compose.store import build_local_store
from selfheal.settings import load_settings
from tests.e2e.test_fix_cli import HANDLER, KEYERROR_EVENT_LOG, SELFHEAL, cli, ingest
from tests.support.git_repos import git, make_work_repo

SLOW_TESTS = '''import time

from orders.handler import handle


def test_total():
    time.sleep(4)  # a slow suite: the fix is killed while it runs
    assert handle({"order_items": [{"price": 2, "qty": 3}]})["total"] == 6
'''


def _validate_running(db: Path) -> bool:
    if not db.is_file():
        return False
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            rows = conn.execute("SELECT data FROM steps WHERE state='ValidatePatch'").fetchall()
    except sqlite3.Error:
        return False
    return any(json.loads(r[0]).get("outcome") == "running" for r in rows)


def _selfheal_worktrees(repo: Path) -> list[str]:
    listing = git(repo, "worktree", "list", "--porcelain")
    return [line.split(" ", 1)[1] for line in listing.splitlines()
            if line.startswith("worktree ") and "selfheal-tree-" in line]


@pytest.mark.timeout(600)
def test_a_killed_fix_is_swept_lost_and_redriven_without_the_model(tmp_path: Path) -> None:
    repo = make_work_repo(tmp_path / "repo", files={"orders/__init__.py": "", "orders/handler.py": HANDLER,
                                                     "tests/test_handler.py": SLOW_TESTS})
    home = tmp_path / "home"
    fp = ingest(home, repo, KEYERROR_EVENT_LOG)  # with its event: the fix is verified by replay
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELFHEAL_")}
    proc = subprocess.Popen([SELFHEAL, "fix", fp, "--repo", str(repo), "--home", str(home)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    db = home / "errors.db"
    try:
        deadline = time.monotonic() + 240
        while not _validate_running(db):
            assert proc.poll() is None, "the fix ended before ValidatePatch ran"
            assert time.monotonic() < deadline, "ValidatePatch never started"
            time.sleep(0.1)
        # Killed inside the (4-second) tests: once the validation's worktree is registered, not
        # after a fixed pause that a loaded machine may not have used to get there.
        while not _selfheal_worktrees(repo):
            assert proc.poll() is None, "the fix ended before its worktree was registered"
            assert time.monotonic() < deadline, "the validation's worktree never appeared"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    store = build_local_store(load_settings({"home": home}, env={}))
    record = store.get(fp)
    assert record is not None and record.status == "FIXING"
    assert _selfheal_worktrees(repo), "the killed run left its worktree registered"

    run = cli("redrive", fp, "--repo", str(repo), "--json", home=home)
    assert "sweep: 1 fix(es) lost -> FAILED" in run.stderr
    out = json.loads(run.stdout)
    assert out["status"] == "PR_OPEN" and out["attempt"] == 2, out
    assert [v["state"] for v in out["path"]][0] == "ValidatePatch"

    record = store.get(fp)
    assert record is not None
    first, second = record.attempts
    assert (first.outcome, first.failed_state, first.error, first.reasons) == (
        "failed", "ValidatePatch", "AttemptLost", ["lost"])
    model_calls = [s for a in record.attempts for s in a.steps if s.state == "InvokeModel"]
    assert len(model_calls) == 1 and "InvokeModel" not in [s.state for s in second.steps]
    assert _selfheal_worktrees(repo) == []  # the dead run's worktree is gone, and this run's too
    assert not list((home / "leases").glob("*.json"))  # released by the run that finished
