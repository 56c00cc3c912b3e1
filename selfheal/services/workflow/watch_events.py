"""What ``selfheal watch`` reports: one typed event per thing that happened.

Each event is a frozen dataclass with a ``kind`` (the ``event`` field of ``watch --json``), its
own fields, and ``message``, the line a person reads, derived from the fields. ``as_json`` is the
object a machine reads: ``{"event": kind, ...fields, "message": message}``. The Watcher and the
compose layer emit them; the CLI only chooses between ``message`` and ``as_json``.

Every kind is listed in ``EVENT_KINDS`` and documented (kind and fields) in docs/usage.md; a test
holds the two together.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, ClassVar

EVENT_KINDS: dict[str, type[WatchEvent]] = {}
MESSAGE_PREVIEW = 120  # characters of an error's message in a human line (the JSON has it all)
# C0/C1 controls (terminal escapes, newlines), line separators, bidirectional overrides
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with control characters (terminal escapes, newlines, bidirectional overrides)
    shown as ``\\xNN`` / ``\\uNNNN``."""
    return _CONTROL.sub(_escape, text)


def one_line(text: str, limit: int = MESSAGE_PREVIEW) -> str:
    """``text`` (from a log: untrusted) as one printable line cut to ``limit`` characters."""
    shown = printable(text)
    return shown if len(shown) <= limit else shown[:limit - 1] + "…"


def run_name(execution: str) -> str:
    """The run's name as ``selfheal executions show`` takes it (an execution ARN's last part)."""
    return execution.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class WatchEvent:
    """One thing ``watch`` reports (see module docstring); subclasses set ``kind``."""

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            EVENT_KINDS[cls.kind] = cls

    @property
    def message(self) -> str:
        """The human line: ``text`` with control characters shown as ``\\xNN`` (paths and
        log text may hold terminal escapes or newlines)."""
        return printable(self.text())

    def text(self) -> str:
        """What happened, in words, from the fields (subclasses)."""
        raise NotImplementedError

    @property
    def routine(self) -> bool:
        """Nothing a person watching needs to read (printed with ``--json`` only)."""
        return False

    def as_json(self) -> dict[str, Any]:
        """``{"event": kind, ...fields, "message": message}``: JSON-ready (str, int, None)."""
        return {"event": self.kind, **dataclasses.asdict(self), "message": self.message}

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]


@dataclass(frozen=True)
class Watching(WatchEvent):
    """Set up: the log is followed from here on."""

    kind: ClassVar[str] = "watching"
    log: str

    def text(self) -> str:
        return f"watching {self.log} (Ctrl-C to stop)"


@dataclass(frozen=True)
class LogMissing(WatchEvent):
    """The log does not exist (yet): watch waits for it."""

    kind: ClassVar[str] = "log_missing"
    log: str

    def text(self) -> str:
        return f"waiting for {self.log} to appear"


@dataclass(frozen=True)
class LogAppeared(WatchEvent):
    """The log watch waited for exists now."""

    kind: ClassVar[str] = "log_appeared"
    log: str

    def text(self) -> str:
        return f"{self.log} appeared; following it"


@dataclass(frozen=True)
class Ingested(WatchEvent):
    """New lines held tracebacks (lines without any are counted in the summary only)."""

    kind: ClassVar[str] = "ingested"
    lines: int
    tracebacks: int
    distinct: int
    new: int
    regressed: int
    ignored: int

    def text(self) -> str:
        parts = [f"{self.tracebacks} traceback(s)", f"{self.distinct} distinct"]
        parts += [f"{n} {what}" for n, what in ((self.new, "new"), (self.regressed, "regressed"),
                                                 (self.ignored, "ignored")) if n]
        return f"ingested {self.lines} line(s): " + ", ".join(parts)

    @property
    def routine(self) -> bool:
        """Only known errors again: a busy log would print this at every poll."""
        return not (self.new or self.regressed)


@dataclass(frozen=True)
class NewError(WatchEvent):
    """An error seen for the first time."""

    kind: ClassVar[str] = "new_error"
    fingerprint: str
    exc_type: str
    error_message: str

    def text(self) -> str:
        return f"new error {self.fingerprint[:12]}: {self.exc_type}: {one_line(self.error_message)}"


@dataclass(frozen=True)
class RegressedError(WatchEvent):
    """An error whose fix was merged (RESOLVED) occurred again."""

    kind: ClassVar[str] = "regressed_error"
    fingerprint: str
    exc_type: str
    error_message: str

    def text(self) -> str:
        return f"regressed {self.fingerprint[:12]}: {self.exc_type}: {one_line(self.error_message)}"


@dataclass(frozen=True)
class FixStarted(WatchEvent):
    """A fix workflow execution started (attempt ``attempt`` of the error)."""

    kind: ClassVar[str] = "fix_started"
    fingerprint: str
    attempt: int
    execution: str

    def text(self) -> str:
        return f"started fix {self.execution}"


@dataclass(frozen=True)
class ContinuationStarted(WatchEvent):
    """A fix goes on in a new execution (a continuation of ``previous``)."""

    kind: ClassVar[str] = "continuation_started"
    fingerprint: str
    attempt: int
    execution: str
    previous: str

    def text(self) -> str:
        return f"fix {self.previous} continues as {self.execution}"


@dataclass(frozen=True)
class FixResult:
    """How one attempt ended, as its record says (what ``FixEnded`` carries)."""

    outcome: str  # PR_OPEN | ABSTAINED | FAILED (the engine's status while it still runs)
    pr_url: str | None = None
    failed_state: str | None = None
    error: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class FixEnded(WatchEvent):
    """A fix ended: ``outcome`` PR_OPEN, ABSTAINED or FAILED (the error's, not the engine's)."""

    kind: ClassVar[str] = "fix_ended"
    fingerprint: str
    attempt: int
    execution: str
    outcome: str
    engine_status: str
    pr_url: str | None = None
    failed_state: str | None = None
    error: str | None = None
    reason: str | None = None

    def text(self) -> str:
        text = f"fix {self.execution} ended: {self.outcome}"
        if self.pr_url:
            text += f" {self.pr_url}"
        if self.failed_state:
            text += f" in {self.failed_state}"
        detail = ": ".join(one_line(t) for t in (self.error, self.reason) if t)
        return text + (f" ({detail})" if detail else "")


@dataclass(frozen=True)
class PrSync(WatchEvent):
    """Fix PRs were synced and something changed: merged -> RESOLVED, closed -> FAILED."""

    kind: ClassVar[str] = "pr_sync"
    checked: int
    resolved: int
    failed: int
    problems: int
    problem: str | None = None  # the first problem

    def text(self) -> str:
        text = f"PR sync: {self.resolved} resolved (PR merged), {self.failed} failed (PR closed)"
        if self.problems:
            text += f", {self.problems} problem(s): {one_line(self.problem or '')}"
        return text


@dataclass(frozen=True)
class Sweep(WatchEvent):
    """Fixes another process left FIXING were marked lost or settled, continuations or worktrees
    handled (``SweepReport``)."""

    kind: ClassVar[str] = "sweep"
    lost: int
    continuations_started: int
    settled: int
    worktrees_removed: int

    def text(self) -> str:
        counts = ((self.lost, "fix(es) lost -> FAILED"),
                  (self.continuations_started, "continuation(s) started"),
                  (self.settled, "finished fix(es) given their status"),
                  (self.worktrees_removed, "stale worktree(s) removed"))
        return "sweep: " + ("; ".join(f"{n} {what}" for n, what in counts if n) or "nothing to do")


@dataclass(frozen=True)
class SkippedInput(WatchEvent):
    """Lines that could not be ingested were skipped for good (watch goes on after them)."""

    kind: ClassVar[str] = "skipped_input"
    lines: int
    reason: str

    def text(self) -> str:
        return f"skipped bad input ({self.lines} line(s)): {one_line(self.reason)}"


@dataclass(frozen=True)
class HousekeepingFailed(WatchEvent):
    """The PR sync or the sweep failed; retried at the next interval (watch goes on)."""

    kind: ClassVar[str] = "housekeeping_failed"
    task: str  # "housekeeping" (the PR sync) or "sweep"
    error: str  # the condition's class name (selfheal.errors)
    reason: str

    def text(self) -> str:
        prefix = "sweep: failed" if self.task == "sweep" else "housekeeping failed"
        return f"{prefix}: {self.error}: {one_line(self.reason)}"


@dataclass(frozen=True)
class Stopping(WatchEvent):
    """Asked to stop: what was read is ingested, fixes in flight are waited for."""

    kind: ClassVar[str] = "stopping"

    def text(self) -> str:
        return "stopping: finishing what was read (again to abandon fixes in flight)"


@dataclass(frozen=True)
class WaitingForFixes(WatchEvent):
    """On stop: fixes still running are waited for."""

    kind: ClassVar[str] = "waiting_for_fixes"
    in_flight: int

    def text(self) -> str:
        return f"waiting for {self.in_flight} fix(es) in flight"


@dataclass(frozen=True)
class FixAbandoned(WatchEvent):
    """Asked to stop a second time: a fix in flight dies with watch (FAILED, re-drivable)."""

    kind: ClassVar[str] = "fix_abandoned"
    fingerprint: str
    attempt: int

    def text(self) -> str:
        short = self.fingerprint[:12]
        return f"abandoned fix {short}-{self.attempt}: FAILED (re-drive it: selfheal redrive {short})"


@dataclass(frozen=True)
class Summary(WatchEvent):
    """The last event of a clean stop: totals of this run."""

    kind: ClassVar[str] = "summary"
    lines: int
    tracebacks: int
    new_errors: int
    fixes_started: int
    fixes_finished: int

    def text(self) -> str:
        return (f"stopped: {self.lines} lines, {self.tracebacks} tracebacks, {self.new_errors} new errors, "
                f"{self.fixes_started} fixes started, {self.fixes_finished} finished")
