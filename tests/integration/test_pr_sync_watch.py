"""The watch loop syncs fix PRs between polls: a fix merged with real git resolves its error, and
the same traceback appended to the followed log then regresses it and asks for a new fix."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selfheal.adapters.local_git import LocalGitHost, LocalGitRepository
from selfheal.compose.store import build_ingest_service, build_local_store
from selfheal.compose.watch import housekeeping_events
from selfheal.domain.records import Status
from selfheal.errors import CodeHostUnavailable
from selfheal.services.pr_sync import sync_pull_requests
from selfheal.services.publish import publish_fix
from selfheal.services.workflow.watch import LogFollower, Watcher
from selfheal.services.workflow.watch_events import HousekeepingFailed, PrSync, WatchEvent
from selfheal.settings import load_settings
from tests.support.git_repos import git, make_work_repo
from tests.support.pr_sync_cases import FIXED, TRACE


class RecordingDispatcher:
    """Keeps what watch asks to start (starting fixes is not what this test is about)."""

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}

    def submit(self, fingerprint: str, reason: Any = "new") -> None:
        self.reasons[fingerprint] = str(reason)

    def submit_report(self, report: Any) -> None:
        for fp in report.to_fix:
            self.reasons[fp] = report.reasons[fp]

    def collect_queued(self) -> int:
        return 0

    def drain(self) -> list[Any]:
        return []


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_watch_resolves_merged_fix_then_regresses(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "svc")
    settings = load_settings({"home": tmp_path / "home", "repo": work}, env={})
    store = build_local_store(settings)
    host = LocalGitHost(LocalGitRepository(work), settings.home)
    log = tmp_path / "app.log"
    log.write_text(TRACE)
    (fp,) = build_ingest_service(settings, store).ingest_lines(TRACE.splitlines(), str(log)).new
    store.transition(fp, Status.FIXING)
    pr = publish_fix(host, fingerprint=fp, base_branch="main", base_revision=host.repository.resolve(),
                     files={"app.py": FIXED}, title="fix", body="body")
    store.transition(fp, Status.PR_OPEN, fields={"branch": pr.branch, "pr_url": pr.url})

    events: list[WatchEvent] = []
    dispatcher = RecordingDispatcher()
    follower = LogFollower(log, tmp_path / "state.json")
    follower.commit(log.stat().st_size)  # the first occurrence is already ingested
    watcher = Watcher(follower=follower, ingest=build_ingest_service(settings, store),
                      dispatcher=dispatcher, wait_execution=lambda _ex: None, source=str(log),
                      poll_seconds=0.02, on_event=events.append,
                      housekeeping=lambda: housekeeping_events(lambda: None,
                                                               lambda: sync_pull_requests(store, host)),
                      housekeeping_seconds=0.02)
    thread = threading.Thread(target=watcher.run, kwargs={"describe": lambda _ex: None}, daemon=True)
    thread.start()
    try:
        git(work, "merge", "-q", "--no-ff", "-m", "merge fix", pr.branch)
        _wait_for(lambda: store.get(fp).status == Status.RESOLVED, "the merge to resolve the error")  # type: ignore[union-attr]
        synced = [e for e in events if isinstance(e, PrSync)]
        assert synced and (synced[0].resolved, synced[0].failed) == (1, 0), events
        assert synced[0].message.startswith("PR sync: 1 resolved"), synced
        with log.open("a") as fh:
            fh.write(TRACE)
        _wait_for(lambda: fp in dispatcher.reasons, "the regression to be queued")
    finally:
        watcher.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    rec = store.get(fp)
    assert rec is not None and rec.status == Status.REGRESSED and rec.previous_pr_url == pr.url
    assert dispatcher.reasons == {fp: "regressed"}


def test_housekeeping_failure_is_reported_not_fatal(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    calls: list[int] = []

    def flaky() -> list[WatchEvent]:
        calls.append(1)
        if len(calls) == 1:
            raise CodeHostUnavailable("code host down")
        return []

    events: list[WatchEvent] = []
    watcher = Watcher(follower=LogFollower(log, tmp_path / "s.json"), ingest=build_ingest_service(
        load_settings({"home": tmp_path / "home"}, env={}), build_local_store(
            load_settings({"home": tmp_path / "home"}, env={}))),
        dispatcher=RecordingDispatcher(), wait_execution=lambda _ex: None, source=str(log),
        poll_seconds=0.01, on_event=events.append, housekeeping=flaky, housekeeping_seconds=0.01)
    thread = threading.Thread(target=watcher.run, kwargs={"describe": lambda _ex: None}, daemon=True)
    thread.start()
    try:
        _wait_for(lambda: len(calls) >= 3, "housekeeping to run again after a failure")
    finally:
        watcher.stop()
        thread.join(timeout=30)
    assert events[0] == HousekeepingFailed(task="housekeeping", error="CodeHostUnavailable",
                                           reason="code host down")
    assert events[0].message == "housekeeping failed: CodeHostUnavailable: code host down"
