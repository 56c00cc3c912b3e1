"""Live progress of a fix run: one line per state change, and inside a long state its elapsed
time and the countdown to the next retry (rewritten in place on a terminal, a line every
``QUIET_SECONDS`` otherwise). Durations in the final summary come from the error record, the
same source as ``selfheal executions show``."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import click

MARK = {"entered": "▶", "succeeded": "✓", "error": "↻", "caught": "✗", "failed": "✗", "waiting": "⏳"}
TICK_SECONDS = 1.0
QUIET_SECONDS = 15.0  # not a terminal: say we are alive this often during a long state


def retry_window(definition: dict[str, Any], state: str, error: str, retry_number: int,
                 scale: float = 1.0) -> float | None:
    """The longest wait (seconds) before retry ``retry_number`` (1-based) of ``state`` after
    ``error``, from the state's ASL ``Retry`` (``None``: the state does not retry it)."""
    spec = definition.get("States", {}).get(state, {})
    for rule in spec.get("Retry", []):
        names = rule.get("ErrorEquals", [])
        if error in names or "States.ALL" in names:
            if retry_number > int(rule.get("MaxAttempts", 3)):
                return None
            backoff = float(rule.get("BackoffRate", 2.0)) ** (retry_number - 1)
            wait = float(rule.get("IntervalSeconds", 1)) * backoff
            cap = rule.get("MaxDelaySeconds")
            return min(wait, float(cap)) * scale if cap else wait * scale
    return None


def _leading_number(text: str) -> float | None:
    """``12`` from ``"12 s (rate limit)"``."""
    head = text.strip().split(" ", 1)[0]
    try:
        return float(head)
    except ValueError:
        return None


class LiveProgress:
    """A ``Progress`` callback for ``run_execution`` with a ticker thread for long states."""

    def __init__(self, definition: dict[str, Any] | None = None, retry_scale: float = 1.0,
                 tty: bool | None = None) -> None:
        self.definition = definition or {}
        self.retry_scale = retry_scale
        self.tty = sys.stdout.isatty() if tty is None else tty
        self.state = ""
        self.since = time.monotonic()
        self.retry_due: float | None = None
        self.retries: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._last_quiet = time.monotonic()
        self._thread = threading.Thread(target=self._tick, name="selfheal-progress", daemon=True)

    def __enter__(self) -> LiveProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._clear()

    def __call__(self, ev: Any) -> None:
        with self._lock:
            self._clear()
            if ev.event == "entered":
                self.state, self.since, self.retry_due = ev.state, time.monotonic(), None
                self._last_quiet = time.monotonic()
                click.echo(f"  {MARK['entered']} {ev.state} ...")
                return
            if ev.event == "waiting":  # a rate limit the service asked for: count it down
                seconds = _leading_number(ev.detail)
                first = self.retry_due is None
                self.retry_due = time.monotonic() + seconds if seconds is not None else self.retry_due
                if first:
                    self.state = self.state or ev.state
                    click.echo(f"  {MARK['waiting']} {ev.state}: waiting {ev.detail}")
                return
            if ev.event == "error":
                number = self.retries[ev.state] = self.retries.get(ev.state, 0) + 1
                wait = retry_window(self.definition, ev.state, ev.detail, number, self.retry_scale)
                self.retry_due = time.monotonic() + wait if wait is not None else None
                when = f"retry {number} within {wait:.0f} s" if wait is not None else "no retry left"
                click.echo(f"  {MARK['error']} {ev.state}: {ev.detail}; {when}")
                return
            self.retry_due = None
            detail = {"caught": ": error caught -> RecordFailure",
                      "failed": f": execution failed ({ev.detail})"}.get(ev.event, "")
            click.echo(f"  {MARK.get(ev.event, '·')} {ev.state}{detail}")
            self.state = ""

    def status_line(self, now: float | None = None) -> str:
        """``InvokeModel 12 s`` or ``InvokeModel 12 s, retry in 8 s`` (empty between states)."""
        if not self.state:
            return ""
        now = time.monotonic() if now is None else now
        line = f"    {self.state} {now - self.since:.0f} s"
        if self.retry_due is not None:
            line += f", retry in {max(0.0, self.retry_due - now):.0f} s"
        return line

    def _tick(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            with self._lock:
                line = self.status_line()
                if not line or time.monotonic() - self.since < 3:
                    continue
                if self.tty:
                    click.echo(f"\r{line}\033[K", nl=False)
                elif time.monotonic() - self._last_quiet >= QUIET_SECONDS:
                    self._last_quiet = time.monotonic()
                    click.echo(line)

    def _clear(self) -> None:
        if self.tty:
            click.echo("\r\033[K", nl=False)
