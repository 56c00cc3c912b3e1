"""A long-running ``watch`` sweeps too: a separate ``selfheal fix`` that dies while watch runs
leaves its attempt FIXING, and watch's housekeeping marks it FAILED (lost, re-drivable) without
waiting for the next command to start. Its own fixes in flight hold live leases and are left alone."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from selfheal.adapters.lease_files import lease_path
from selfheal.compose.store import build_ingest_service, build_local_store
from selfheal.compose.watch import local_watch
from selfheal.domain.records import Status, utcnow
from selfheal.settings import load_settings
from tests.support.git_repos import make_work_repo
from tests.support.pr_sync_cases import TRACE


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_watch_sweeps_a_fix_another_process_left_fixing(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "svc")
    settings = load_settings({"home": tmp_path / "home", "repo": work}, env={})
    store = build_local_store(settings)
    log = tmp_path / "app.log"
    log.write_text(TRACE)
    (fp,) = build_ingest_service(settings, store).ingest_lines(TRACE.splitlines(), str(log)).new
    store.transition(fp, Status.FIXING)
    attempt = store.start_attempt(fp, execution="killed-run")
    # The lease of a `selfheal fix` that was killed: its process is gone.
    lease = lease_path(settings.home, fp, attempt.number)
    lease.parent.mkdir(parents=True, exist_ok=True)
    lease.write_text(json.dumps({"fingerprint": fp, "attempt": attempt.number, "pid": _dead_pid(),
                                 "host": socket.gethostname(), "heartbeat_at": utcnow().isoformat()}))
    events: list[str] = []
    with local_watch(settings, log, None, poll_seconds=0.02, sync_prs_seconds=0.05, on_event=events.append,
                     from_start=False) as session:
        session.watcher.follower.commit(log.stat().st_size)  # the occurrence is already ingested
        thread = threading.Thread(target=session.watcher.run, kwargs={"describe": session.describe},
                                  daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 60
            while store.get(fp).status != Status.FAILED:  # type: ignore[union-attr]
                assert time.monotonic() < deadline, events
                time.sleep(0.02)
        finally:
            session.watcher.stop()
            thread.join(30)
    record = store.get(fp)
    assert record is not None
    (only,) = record.attempts
    assert (only.outcome, only.error, only.reasons) == ("failed", "AttemptLost", ["lost"])
    assert any(e.startswith("sweep: 1 fix(es) lost -> FAILED") for e in events), events
    assert not lease.exists()
