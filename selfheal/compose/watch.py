"""Composition of ``selfheal watch``: follow a log, ingest it, start fixes through the one start
protocol (``FixStarter``), sync fix PRs, sweep fixes other processes left FIXING when they died,
and report each fix by the error's outcome. Everything is reported as typed events
(``selfheal.services.workflow.watch_events``).

The command only parses options and prints; this module decides what is wired to what.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfheal.ports import ErrorStore
from selfheal.services.workflow.watch_events import (
    FixAbandoned,
    FixResult,
    HousekeepingFailed,
    LogAppeared,
    LogMissing,
    PrSync,
    Sweep,
    WatchEvent,
)
from selfheal.settings import Settings

# Attempt.outcome (lower case on the record) -> the status people read.
SWEEP_EVERY_S = 60.0  # housekeeping without PR sync: the sweep alone
_OUTCOMES = {"pr_open": "PR_OPEN", "abstained": "ABSTAINED", "failed": "FAILED"}


def fix_outcome(store: ErrorStore, fingerprint: str, number: int, engine_status: str) -> str:
    """PR_OPEN / ABSTAINED / FAILED of attempt ``number``: its recorded outcome, else the
    error's status; a run that recorded neither counts as FAILED (the engine's status is only
    passed through while it is RUNNING)."""
    return fix_result(store, fingerprint, number, engine_status).outcome


def fix_result(store: ErrorStore, fingerprint: str, number: int, engine_status: str) -> FixResult:
    """``fix_outcome`` with what the record says about it: the PR's URL, or where and why the
    attempt failed (its first reason when it abstained)."""
    if engine_status == "RUNNING":
        return FixResult(outcome=engine_status)
    record = store.get(fingerprint)
    if record is None:
        return FixResult(outcome="FAILED", reason="the error is not in the store")
    attempt = next((a for a in record.attempts if a.number == number), None)
    if attempt is not None and attempt.outcome in _OUTCOMES:
        outcome = _OUTCOMES[attempt.outcome]
    else:
        status = str(record.status.value)
        outcome = status if status in _OUTCOMES.values() else "FAILED"
    if outcome == "PR_OPEN":
        return FixResult(outcome=outcome, pr_url=record.pr_url)
    if outcome == "ABSTAINED":
        return FixResult(outcome=outcome, reason=attempt.reasons[0] if attempt and attempt.reasons else None)
    if attempt is None:
        return FixResult(outcome=outcome, reason=record.status_reason)
    reason = attempt.cause or (attempt.reasons[0] if attempt.reasons else record.status_reason)
    return FixResult(outcome=outcome, failed_state=attempt.failed_state, error=attempt.error, reason=reason)


def housekeeping_events(sweep: Callable[[], Any], sync: Callable[[], Any] | None) -> list[WatchEvent]:
    """One housekeeping round of ``watch``: the sweep (its failure is reported, never fatal),
    then the PR sync (``sync``, when on); an event for each that did something."""
    events: list[WatchEvent] = []
    try:
        swept = sweep()
    except Exception as exc:  # noqa: BLE001 - a failed sweep must not end the watch; next time
        events.append(HousekeepingFailed(task="sweep", error=type(exc).__name__, reason=str(exc)))
    else:
        if swept is not None and swept.summary():
            events.append(Sweep(lost=len(swept.lost), continuations_started=len(swept.started),
                                settled=len(swept.settled), worktrees_removed=len(swept.pruned_worktrees)))
    synced = sync() if sync is not None else None
    if synced is not None and synced.summary():
        events.append(PrSync(checked=synced.checked, resolved=len(synced.resolved), failed=len(synced.failed),
                             problems=len(synced.problems),
                             problem=synced.problems[0] if synced.problems else None))
    return events


class AnnouncingFollower:
    """Wraps a log follower (``read``/``commit``): says when it waits for a missing log and
    when the log appears, then reads as the wrapped follower does."""

    def __init__(self, inner: Any, path: Path, on_event: Callable[[WatchEvent], None]) -> None:
        self.inner, self.path, self.on_event = inner, Path(path), on_event
        self.waiting = False

    def read(self, start: int | None = None) -> tuple[list[str], int]:
        exists = self.path.is_file()
        if not exists and not self.waiting:
            self.waiting = True
            self.on_event(LogMissing(log=str(self.path)))
        elif exists and self.waiting:
            self.waiting = False
            self.on_event(LogAppeared(log=str(self.path)))
        lines, end = self.inner.read(start)
        return list(lines), int(end)

    def commit(self, offset: int) -> None:
        self.inner.commit(offset)

    def __getattr__(self, name: str) -> Any:  # offset, path, ... of the wrapped follower
        return getattr(self.inner, name)


@dataclass
class WatchSession:
    """A wired watcher plus what the command needs around it."""

    watcher: Any
    store: ErrorStore
    describe: Callable[[str], Any]
    min_occurrences: int

    def run(self) -> Any:
        """Queue what an earlier run left pending, then follow until stopped."""
        self.watcher.resume_pending(self.store, self.min_occurrences)
        return self.watcher.run(describe=self.describe)

    def abandon_in_flight(self) -> None:
        """Fixes in flight die with this process: say so on their records (re-drivable) and
        as ``fix_abandoned`` events."""
        from selfheal.services.workflow.runner import abandon

        for fp, number in self.watcher.in_flight():
            abandon(self.store, fp, number, "Interrupted", "watch was stopped while the fix ran")
            self.watcher.on_event(FixAbandoned(fingerprint=fp, attempt=number))


@contextmanager
def local_watch(settings: Settings, log: Path, model_spec: str | None, *, poll_seconds: float,
                sync_prs_seconds: float, on_event: Callable[[WatchEvent], None], from_start: bool = False,
                fix_timeout: float = 3600.0) -> Iterator[WatchSession]:
    """The local watcher of ``log`` with its workflow engine open for the ``with`` body; it reads
    from the file cursor ``ingest`` shares (``from_start``: from the beginning)."""
    from selfheal.compose.store import build_ingest_service, build_log_follower, build_policy
    from selfheal.compose.sweep import sweep_local_report
    from selfheal.compose.workflow import local_workflow
    from selfheal.services.dispatch import FixStarter, LocalDispatcher
    from selfheal.services.pr_sync import sync_pull_requests
    from selfheal.services.workflow.chain import continue_if_due
    from selfheal.services.workflow.watch import Watcher

    with local_workflow(settings, model_spec) as wf:
        store = wf.services.store

        def wait(execution: str) -> Any:
            return wf.engine.wait(execution, timeout=fix_timeout)

        def housekeeping() -> list[WatchEvent]:
            # Another selfheal process killed while this one watches leaves its attempt FIXING:
            # swept here too, not only when the next command starts (leases keep ours alive).
            return housekeeping_events(
                lambda: sweep_local_report(settings),
                (lambda: sync_pull_requests(store, wf.services.code_host)) if sync_prs_seconds > 0 else None)

        watcher = Watcher(
            follower=AnnouncingFollower(build_log_follower(settings, log, from_start), log, on_event),
            ingest=build_ingest_service(settings, store),
            dispatcher=LocalDispatcher(FixStarter(store, wf.engine, build_policy(settings))),
            wait_execution=wait, source=str(Path(log).resolve()), poll_seconds=poll_seconds,
            on_event=on_event, lookup=store.get,
            housekeeping=housekeeping,
            housekeeping_seconds=sync_prs_seconds if sync_prs_seconds > 0 else SWEEP_EVERY_S,
            outcome=lambda fp, number, info: fix_result(store, fp, number, str(info.status)),
            continuation=lambda fp, number, info: continue_if_due(store, wf.engine, fp, number, info))
        yield WatchSession(watcher, store, wf.engine.describe, settings.min_occurrences)
