"""How long the running workflow step may still take.

On Lambda a step ends when its function's ``Timeout`` runs out, whatever it is doing: nothing of
it (no report, no step record) survives. The state handler therefore sets the time the runtime
says is left (``context.get_remaining_time_in_millis()``) for the duration of the step
(``step_deadline``), and work that can take long, the test runs of ValidatePatch, fits itself
into it (``seconds_left``). Where nobody set one (the CLI, tests) there is no deadline.

A context variable, so concurrent steps of the local engine each see their own; threads the step
starts do not inherit it, so read it in the step's own thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_DEADLINE: ContextVar[float | None] = ContextVar("selfheal_step_deadline", default=None)


@contextmanager
def step_deadline(seconds: float | None) -> Iterator[None]:
    """Within the block, the step has ``seconds`` left (None: no deadline)."""
    token = _DEADLINE.set(None if seconds is None else time.monotonic() + max(0.0, seconds))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def seconds_left() -> float | None:
    """Seconds until the running step's deadline (may be negative), or None without one."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()


def lambda_seconds_left(context: object) -> float | None:
    """What a Lambda context says is left of the invocation; None for anything else (the local
    engine's context, a test's None)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    try:
        return float(remaining()) / 1000.0
    except (TypeError, ValueError):
        return None
