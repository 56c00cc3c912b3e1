"""`selfheal watch`: follow a log, ingest, fix new errors; Ctrl-C stops cleanly and a restart
continues after the last ingested line (nothing lost, nothing counted twice). Run with `--json`:
standard output holds only typed events (docs/usage.md), one JSON object per line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from selfheal.compose.store import build_local_store
from selfheal.domain.records import Status
from selfheal.services.workflow.watch_events import EVENT_KINDS
from selfheal.settings import load_settings
from tests.e2e.test_fix_cli import HANDLER, KEYERROR_EVENT_LOG, RECURSION_LOG, SELFHEAL, TESTS
from tests.support.git_repos import make_work_repo


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a job started with `&` from a script


def start_watch(log: Path, repo: Path, home: Path, out: Path, *, sigint_ignored: bool = False,
                ready: str = "watching") -> subprocess.Popen[bytes]:
    """``selfheal watch --json``: standard output to ``out``, standard error next to it (``.err``);
    returns once an event of kind ``ready`` is out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELFHEAL_")}
    proc = subprocess.Popen([SELFHEAL, "watch", str(log), "--repo", str(repo), "--home", str(home),
                             "--poll", "0.2", "--json"], stdout=out.open("wb"),
                            stderr=out.with_suffix(".err").open("wb"),
                            env=env, preexec_fn=_ignore_sigint if sigint_ignored else None)
    wait_for(lambda: any(e["event"] == ready for e in events(out, running=True)), 60, "watch to start")
    return proc


def stop(proc: subprocess.Popen[bytes], out: Path, signum: int = signal.SIGINT) -> dict[str, Any]:
    """Signal watch, wait for its clean exit; its summary event, which must come last."""
    proc.send_signal(signum)
    assert proc.wait(timeout=300) == 0, out.with_suffix(".err").read_text()
    kinds = [e["event"] for e in events(out)]
    assert kinds.count("summary") == 1 and kinds[-1] == "summary" and kinds.count("stopping") == 1, kinds
    assert kinds.index("stopping") < kinds.index("summary")
    return events(out)[-1]


def events(out: Path, *, running: bool = False) -> list[dict[str, Any]]:
    """Every standard output line of a ``watch --json`` run, parsed: each one must be a JSON
    object of a known kind with exactly that kind's fields and its human ``message``
    (``running``: the last line may still be being written)."""
    found = []
    for line in out.read_text().splitlines():
        if running and not line.endswith("}"):
            break
        data = json.loads(line)
        kind = EVENT_KINDS[data["event"]]
        assert set(data) == {"event", "message", *kind.field_names()}, data
        assert isinstance(data["message"], str) and data["message"], data
        found.append(data)
    return found


@pytest.mark.timeout(600)
def test_watch_fixes_new_errors_and_a_restart_loses_nothing(tmp_path: Path) -> None:
    repo = make_work_repo(tmp_path / "repo", files={"orders/__init__.py": "", "orders/handler.py": HANDLER,
                                                     "tests/test_handler.py": TESTS})
    home, log = tmp_path / "home", tmp_path / "app.log"
    log.write_text("2026-11-29 09:59:59 INFO service started\n")
    store = build_local_store(load_settings({"home": home}, env={}))

    out = tmp_path / "watch1.out"
    proc = start_watch(log, repo, home, out)
    with log.open("a") as fh:
        fh.write(KEYERROR_EVENT_LOG)  # the crash with its event: the fix is verified, so a PR opens
    wait_for(lambda: any(r.status == Status.PR_OPEN for r in store.list()), 240, "the fix PR")
    # written just before the stop: must still be ingested (and its fix waited for)
    with log.open("a") as fh:
        fh.write(RECURSION_LOG)
    stats = stop(proc, out)
    assert stats["tracebacks"] == 2 and stats["new_errors"] == 2
    records = {r.exc_type: r for r in store.list()}
    said = events(out)
    kinds = [e["event"] for e in said]
    assert kinds[0] == "watching" and "stopping" in kinds, kinds
    new = {e["exc_type"]: e for e in said if e["event"] == "new_error"}
    assert set(new) == {"KeyError", "RecursionError"}, said
    assert new["KeyError"]["fingerprint"] == records["KeyError"].fingerprint
    assert new["KeyError"]["error_message"] == records["KeyError"].message
    assert sum(e["tracebacks"] for e in said if e["event"] == "ingested") == 2
    started = {e["fingerprint"] for e in said if e["event"] == "fix_started"}
    assert started == {r.fingerprint for r in records.values()}, said
    # each fix is reported by the error's outcome, not the engine's SUCCEEDED (issue 13)
    ended = {e["fingerprint"]: e for e in said if e["event"] == "fix_ended"}
    pr_fix, abstained = ended[records["KeyError"].fingerprint], ended[records["RecursionError"].fingerprint]
    assert (pr_fix["outcome"], pr_fix["engine_status"]) == ("PR_OPEN", "SUCCEEDED"), pr_fix
    assert pr_fix["pr_url"] == records["KeyError"].pr_url and pr_fix["pr_url"], pr_fix
    assert pr_fix["execution"].startswith(f"{records['KeyError'].short_id}-1")  # or a continuation (-1-cN)
    assert abstained["outcome"] == "ABSTAINED" and abstained["reason"], abstained
    assert pr_fix["message"].startswith(f"fix {pr_fix['execution']} ended: PR_OPEN")
    assert not any(e.get("outcome") == "SUCCEEDED" for e in said)
    # the people's lines are on standard error
    err = out.with_suffix(".err").read_text()
    assert f"watching {log}" in err and "stopping: finishing what was read" in err, err
    assert records["KeyError"].status == Status.PR_OPEN
    assert records["RecursionError"].count == 1
    assert records["RecursionError"].status == Status.ABSTAINED  # its fix was waited for

    # restart: only lines appended since the stop are read
    with log.open("a") as fh:
        fh.write(KEYERROR_EVENT_LOG)
    out2 = tmp_path / "watch2.out"
    proc = start_watch(log, repo, home, out2)
    wait_for(lambda: store.get(records["KeyError"].fingerprint).count == 2,  # type: ignore[union-attr]
             120, "the appended occurrence")
    stats = stop(proc, out2)
    assert stats["lines"] == len(KEYERROR_EVENT_LOG.splitlines()) and stats["tracebacks"] == 1
    assert store.get(records["RecursionError"].fingerprint).count == 1  # type: ignore[union-attr]
    assert store.get(records["RecursionError"].fingerprint).status == Status.ABSTAINED  # type: ignore[union-attr]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_watch_waits_for_a_missing_log_and_stops_whatever_it_inherited(tmp_path: Path, signum: int) -> None:
    repo = make_work_repo(tmp_path / "repo", files={"orders/__init__.py": "", "orders/handler.py": HANDLER})
    home, log = tmp_path / "home", tmp_path / "logs" / "app.log"
    out = tmp_path / "watch.out"
    proc = start_watch(log, repo, home, out, sigint_ignored=True, ready="log_missing")
    assert [e["log"] for e in events(out) if e["event"] == "log_missing"] == [str(log)]
    log.parent.mkdir()
    log.write_text("2026-11-29 09:59:59 INFO service started\n")
    wait_for(lambda: {"event": "log_appeared", "log": str(log), "message": f"{log} appeared; following it"}
             in events(out, running=True), 60, "the log to be noticed")
    stats = stop(proc, out, signum)  # a clean stop reads what is there before it ends
    assert stats["lines"] == 1 and stats["tracebacks"] == 0
