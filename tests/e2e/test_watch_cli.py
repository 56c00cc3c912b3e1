"""`selfheal watch`: follow a log, ingest, fix new errors; Ctrl-C stops cleanly and a restart
continues after the last ingested line (nothing lost, nothing counted twice)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from selfheal.compose.store import build_local_store
from selfheal.domain.records import Status
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELFHEAL_")}
    proc = subprocess.Popen([SELFHEAL, "watch", str(log), "--repo", str(repo), "--home", str(home),
                             "--poll", "0.2", "--json"], stdout=out.open("wb"), stderr=subprocess.STDOUT,
                            env=env, preexec_fn=_ignore_sigint if sigint_ignored else None)
    wait_for(lambda: ready in out.read_text(), 60, "watch to start")
    return proc


def stop(proc: subprocess.Popen[bytes], out: Path, signum: int = signal.SIGINT) -> dict[str, int]:
    proc.send_signal(signum)
    assert proc.wait(timeout=300) == 0, out.read_text()
    last = out.read_text().strip().splitlines()[-1]
    return dict(json.loads(last))


def events(out: Path) -> list[str]:
    """The ``--json`` event lines of a watch run."""
    found = []
    for line in out.read_text().splitlines():
        if line.startswith("{"):
            data = json.loads(line)
            if "event" in data:
                found.append(str(data["event"]))
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
    # each fix is reported by the error's outcome, not the engine's SUCCEEDED (issue 13)
    said = events(out)
    ended = {e.split()[1].split("-")[0]: e.rsplit(" ", 1)[-1] for e in said if " ended: " in e}
    assert ended[records["KeyError"].short_id] == "PR_OPEN", said  # the run may be a continuation (-1-cN)
    assert ended[records["RecursionError"].short_id] == "ABSTAINED", said
    assert not any("SUCCEEDED" in e for e in said)
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
    proc = start_watch(log, repo, home, out, sigint_ignored=True, ready=f"waiting for {log} to appear")
    log.parent.mkdir()
    log.write_text("2026-11-29 09:59:59 INFO service started\n")
    wait_for(lambda: f"{log} appeared; following it" in events(out), 60, "the log to be noticed")
    stats = stop(proc, out, signum)  # a clean stop reads what is there before it ends
    assert stats["lines"] == 1 and stats["tracebacks"] == 0
