"""Follow one attempt of a fix locally across its executions.

An attempt may span several executions (``selfheal.services.workflow.continuation``): when an
execution ends with a ``Continued`` marker on its attempt, the next one is started here after
the wait it asks for (on AWS the fix queue does this). While waiting, ``progress`` receives a
``waiting`` event about once a second with the seconds left (the CLI prints a countdown).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from selfheal.domain.records import utcnow
from selfheal.errors import StepTimeout
from selfheal.names import Artifact
from selfheal.ports import ArtifactStore, ErrorStore, ExecutionInfo, WorkflowEngine
from selfheal.services.workflow.continuation import (
    continuation_name,
    due_at,
    load_request,
    mark_started,
    next_input,
    pending_marker,
)

# (state, seconds left) while a continuation waits
Countdown = Callable[[str, float], None]
COUNTDOWN_TICK_S = 1.0


def wait_with_countdown(seconds: float, state: str, *, countdown: Countdown | None = None,
                        sleep: Callable[[float], None] = time.sleep,
                        beat: Callable[[], None] | None = None) -> None:
    """Sleep ``seconds`` in ticks of a second, reporting what is left at the start, every ten
    seconds and each of the last five (a countdown, not a line per second of a long wait)."""
    left = max(0.0, seconds)
    first = True
    while left > 0:
        if countdown is not None and (first or left <= 5 or round(left) % 10 == 0):
            countdown(state, left)
        first = False
        if beat is not None:
            beat()
        tick = min(COUNTDOWN_TICK_S, left)
        sleep(tick)
        left -= tick


def follow_attempt(store: ErrorStore, engine: WorkflowEngine, fingerprint: str, number: int,
                   execution_id: str, *, artifacts: ArtifactStore | None, deadline: float,
                   poll: float = 0.05, on_poll: Callable[[str], None] | None = None,
                   countdown: Countdown | None = None, sleep: Callable[[float], None] = time.sleep,
                   beat: Callable[[], None] | None = None) -> tuple[str, ExecutionInfo]:
    """Wait for ``execution_id``, then for each continuation of attempt ``number``: the last
    execution's id and how it ended. ``deadline`` is a ``time.monotonic()`` value; past it,
    ``StepTimeout``. ``on_poll(execution_id)`` runs after each poll (progress, heartbeat)."""
    while True:
        info = _wait(engine, execution_id, deadline, poll, on_poll)
        if info.status != "SUCCEEDED":
            return execution_id, info
        record = store.get(fingerprint)
        att = next((a for a in record.attempts if a.number == number), None) if record else None
        marker = pending_marker(att)
        if marker is None:
            return execution_id, info
        output = info.output if isinstance(info.output, dict) else {}
        request: dict[str, Any]
        if (output.get("flow") or {}).get("request") == marker.artifacts[Artifact.REQUEST]:
            request = next_input(output)  # the execution's output is the continuation
        elif artifacts is not None:
            request = load_request(artifacts, marker)
        else:
            return execution_id, info
        state = str(request.get("resume_from") or "?")
        wait = (due_at(marker) - utcnow()).total_seconds()
        wait_with_countdown(wait, state, countdown=countdown, sleep=sleep, beat=beat)
        continuations = int((request.get("flow") or {}).get("continuations", 0))
        execution_id = engine.start(continuation_name(fingerprint, number, continuations), request)
        mark_started(store, fingerprint, number, marker, execution_id)


def _wait(engine: WorkflowEngine, execution_id: str, deadline: float, poll: float,
          on_poll: Callable[[str], None] | None) -> ExecutionInfo:
    while True:
        info = engine.wait(execution_id, timeout=poll)
        if on_poll is not None:
            on_poll(execution_id)
        # moto (and so a local endpoint) flips the status before it stores the output
        if info.status != "RUNNING" and not (info.status == "SUCCEEDED" and info.output is None
                                             and time.monotonic() < deadline):
            return info
        if time.monotonic() >= deadline:
            raise StepTimeout(f"execution {info.name or execution_id} still running at the deadline")


def continue_if_due(store: ErrorStore, engine: WorkflowEngine, fingerprint: str, number: int,
                    info: ExecutionInfo) -> str | None:
    """Non-blocking: after an execution of attempt ``number`` ended, the execution that now
    carries it on: a continuation started now (it was due), ``info.execution_id`` when one is
    pending but not due yet, or None when the attempt does not go on."""
    if info.status != "SUCCEEDED":
        return None
    if info.output is None:  # the output is stored just after the status: look again
        return info.execution_id
    record = store.get(fingerprint)
    att = next((a for a in record.attempts if a.number == number), None) if record else None
    marker = pending_marker(att)
    output = info.output if isinstance(info.output, dict) else {}
    if marker is None or (output.get("flow") or {}).get("request") != marker.artifacts[Artifact.REQUEST]:
        return None
    if due_at(marker) > utcnow():
        return info.execution_id
    request = next_input(output)
    continuations = int(request["flow"]["continuations"])
    execution_id = engine.start(continuation_name(fingerprint, number, continuations), request)
    mark_started(store, fingerprint, number, marker, execution_id)
    return execution_id
