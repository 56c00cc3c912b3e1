"""Follow a log file: ingest new lines, start fixes for new errors, until told to stop.

Nothing is lost on a clean shutdown: lines are ingested before their offset is saved (a restart
continues after the last ingested line and re-reads nothing twice), fixes in flight are waited
for, and errors whose fix has not started yet stay NEW/QUEUED in the store and are picked up
when watching resumes.

What happens is reported as typed events (``selfheal.services.workflow.watch_events``) through
``Watcher.on_event``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from selfheal.domain.records import Status
from selfheal.errors import MalformedInput, SelfhealError
from selfheal.services.workflow.watch_events import (
    ContinuationStarted,
    FixEnded,
    FixResult,
    FixStarted,
    HousekeepingFailed,
    Ingested,
    NewError,
    RegressedError,
    SkippedInput,
    Stopping,
    Summary,
    WaitingForFixes,
    WatchEvent,
    run_name,
)

MAX_BUFFER_LINES = 5000


class LogFollower:
    """Complete lines appended to ``path`` since the saved offset (``state_file``)."""

    def __init__(self, path: Path, state_file: Path) -> None:
        self.path = Path(path)
        self.state_file = Path(state_file)
        self.offset = self._load()

    def _load(self) -> int:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 0
        return int(data.get("offset", 0)) if data.get("path") == str(self.path.resolve()) else 0

    def read(self, start: int | None = None) -> tuple[list[str], int]:
        """(complete lines after ``start``, offset after them). A file that shrank (rotated or
        truncated) is read from its beginning."""
        pos = self.offset if start is None else start
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return [], pos
        if size < pos:
            pos = 0
        with self.path.open("rb") as fh:
            fh.seek(pos)
            data = fh.read()
        end = data.rfind(b"\n")
        if end < 0:
            return [], pos
        chunk = data[:end + 1]
        return chunk.decode("utf-8", "replace").splitlines(), pos + len(chunk)

    def commit(self, offset: int) -> None:
        """Remember that everything before ``offset`` is ingested (atomic write)."""
        self.offset = offset
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"path": str(self.path.resolve()), "offset": offset}), encoding="utf-8")
        tmp.replace(self.state_file)


def state_file_for(home: Path, log: Path) -> Path:
    digest = hashlib.sha256(str(Path(log).resolve()).encode()).hexdigest()[:16]
    return home / "watch" / f"{digest}.json"


class Follower(Protocol):
    """Reads what was appended to a log (``LogFollower``, or the shared file cursor)."""

    def read(self, start: int | None = None) -> tuple[list[str], int]: ...

    def commit(self, offset: int) -> None: ...


class Ingestor(Protocol):
    def ingest_lines(self, lines: list[str], source: str) -> Any: ...


class Dispatcher(Protocol):
    def submit(self, fingerprint: str, reason: Any = "new") -> None: ...

    def submit_report(self, report: Any) -> None: ...

    def collect_queued(self) -> int: ...

    def drain(self) -> list[Any]: ...


@dataclass
class WatchStats:
    lines: int = 0
    tracebacks: int = 0
    new_errors: int = 0
    started: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    def summary(self) -> Summary:
        """The closing event of a clean stop."""
        return Summary(lines=self.lines, tracebacks=self.tracebacks, new_errors=self.new_errors,
                       fixes_started=len(self.started), fixes_finished=len(self.finished))


@dataclass
class Watcher:
    """One follow loop; ``stop`` (from a signal handler or another thread) ends it cleanly."""

    follower: Follower
    ingest: Ingestor
    dispatcher: Dispatcher
    wait_execution: Callable[[str], Any]
    source: str
    poll_seconds: float = 0.5
    on_event: Callable[[WatchEvent], None] = lambda _event: None
    # Periodic work between polls (``selfheal watch`` syncs fix PRs: a merged one resolves its
    # error, so the next occurrence regresses); returns the events to report. Runs at the first
    # poll, then every N seconds.
    housekeeping: Callable[[], Iterable[WatchEvent]] | None = None
    housekeeping_seconds: float = 60.0
    # (fingerprint, attempt, ended execution's info) -> what a finished fix is reported as (the
    # CLI: the error's outcome, PR_OPEN / ABSTAINED / FAILED); default: the engine's status
    outcome: Callable[[str, int, Any], FixResult] | None = None
    # fingerprint -> its record (exc_type, message) for the new/regressed error events
    lookup: Callable[[str], Any] | None = None
    # (fingerprint, attempt, ended execution's info) -> the execution that carries the fix on
    # (a continuation, ``selfheal.services.workflow.chain.continue_if_due``), else None
    continuation: Callable[[str, int, Any], str | None] | None = None
    stats: WatchStats = field(default_factory=WatchStats)
    _stop: threading.Event = field(default_factory=threading.Event)
    _inflight: list[str] = field(default_factory=list)
    _started: dict[str, tuple[str, int]] = field(default_factory=dict)  # execution -> (fp, attempt)
    _housekeeping_due: float = 0.0  # time.monotonic() of the next run

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def resume_pending(self, store: Any, min_occurrences: int = 1) -> None:
        """Queue errors left NEW/QUEUED/REGRESSED by an earlier run (nothing is forgotten)."""
        for rec in store.list(Status.NEW):
            if rec.count >= min_occurrences:
                self.dispatcher.submit(rec.fingerprint, "new")
        self.dispatcher.collect_queued()

    def step(self) -> bool:
        """One poll: ingest what is new, start what should start, reap finished fixes.
        Returns True when there was new input."""
        lines, end = self.follower.read()
        if lines:
            try:
                report = self.ingest.ingest_lines(lines, self.source)
            except MalformedInput as exc:
                # Skipped for good: read again, the same lines would fail the same way every poll
                # and hold back everything after them.
                self.follower.commit(end)
                self.on_event(SkippedInput(lines=len(lines), reason=str(exc)))
                return True
            self.follower.commit(end)  # only after the store has the lines
            self.stats.lines += len(lines)
            self.stats.tracebacks += getattr(report, "tracebacks", 0)
            self.stats.new_errors += len(getattr(report, "new", []))
            self._report_ingested(len(lines), report)
            self.dispatcher.submit_report(report)
        for outcome in self.dispatcher.drain():
            execution = getattr(outcome, "execution", None)
            if execution:
                self._inflight.append(execution)
                self._started[execution] = (outcome.fingerprint, outcome.attempt)
                self.stats.started.append(execution)
                self.on_event(FixStarted(fingerprint=outcome.fingerprint, attempt=int(outcome.attempt),
                                         execution=run_name(execution)))
        return bool(lines)

    def _report_ingested(self, lines: int, report: Any) -> None:
        """An ``ingested`` event when the lines held tracebacks, then one per new/regressed error."""
        if not getattr(report, "tracebacks", 0):
            return
        new, regressed = list(getattr(report, "new", [])), list(getattr(report, "regressed", []))
        self.on_event(Ingested(lines=lines, tracebacks=report.tracebacks,
                               distinct=getattr(report, "distinct", 0), new=len(new),
                               regressed=len(regressed), ignored=len(getattr(report, "ignored", []))))
        for kind, fingerprints in ((NewError, new), (RegressedError, regressed)):
            for fp in fingerprints:
                record = self.lookup(fp) if self.lookup is not None else None
                self.on_event(kind(fingerprint=fp, exc_type=str(getattr(record, "exc_type", "?")),
                                   error_message=str(getattr(record, "message", ""))))

    def _carried_on(self, execution: str, info: Any) -> str | None:
        """The execution that carries an ended one's fix on (tracked in its place), or None."""
        if self.continuation is None or execution not in self._started:
            return None
        fp, number = self._started[execution]
        nxt = self.continuation(fp, number, info)
        if nxt is not None and nxt != execution:
            self._started[nxt] = (fp, number)
            self.on_event(ContinuationStarted(fingerprint=fp, attempt=number, execution=run_name(nxt),
                                              previous=run_name(execution)))
        return nxt

    def _wait_all(self) -> None:
        for first in self._inflight:
            execution = first
            while True:
                info = self.wait_execution(execution)
                nxt = self._carried_on(execution, info)
                if nxt is None:
                    break
                if nxt == execution:  # a continuation not due yet
                    time.sleep(min(1.0, self.poll_seconds))
                execution = nxt
            self.stats.finished.append(execution)
            self.on_event(self._ended(execution, info))
        self._inflight = []

    def _ended(self, execution: str, info: Any) -> FixEnded:
        status = str(getattr(info, "status", "?"))
        fp, number = self._started.get(execution, ("", 0))
        result = FixResult(outcome=status)
        if self.outcome is not None and execution in self._started:
            result = self.outcome(fp, number, info)
        return FixEnded(fingerprint=fp, attempt=number, execution=run_name(execution), outcome=result.outcome,
                        engine_status=status, pr_url=result.pr_url, failed_state=result.failed_state,
                        error=result.error, reason=result.reason)

    def in_flight(self) -> list[tuple[str, int]]:
        """(fingerprint, attempt) of the fixes still running."""
        return [self._started[e] for e in self._inflight if e in self._started]

    def reap_finished(self, describe: Callable[[str], Any]) -> None:
        """Report fixes that have ended (non-blocking)."""
        still = []
        for execution in self._inflight:
            info = describe(execution)
            nxt = None if info.status == "RUNNING" else self._carried_on(execution, info)
            if info.status == "RUNNING" or nxt == execution:
                still.append(execution)
            elif nxt is not None:
                still.append(nxt)
            else:
                self.stats.finished.append(execution)
                self.on_event(self._ended(execution, info))
        self._inflight = still

    def housekeep(self) -> None:
        """Run ``housekeeping`` when due; a failure is reported and retried at the next interval."""
        if self.housekeeping is None or time.monotonic() < self._housekeeping_due:
            return
        self._housekeeping_due = time.monotonic() + self.housekeeping_seconds
        try:
            events = list(self.housekeeping())
        except SelfhealError as exc:
            events = [HousekeepingFailed(task="housekeeping", error=type(exc).__name__, reason=str(exc))]
        for event in events:
            self.on_event(event)

    def run(self, describe: Callable[[str], Any]) -> WatchStats:
        """Poll until ``stop``; then ingest what is left and wait for fixes in flight."""
        while not self._stop.is_set():
            self.housekeep()
            busy = self.step()
            self.reap_finished(describe)
            if not busy:
                self._stop.wait(self.poll_seconds)
        self.on_event(Stopping())
        self.step()  # the lines written before the stop are ingested, not dropped
        if self._inflight:
            self.on_event(WaitingForFixes(in_flight=len(self._inflight)))
        self._wait_all()
        return self.stats

