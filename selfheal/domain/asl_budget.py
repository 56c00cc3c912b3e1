"""The worst-case duration of one execution of an ASL state machine, statically.

Every path from ``StartAt`` is followed with each Task at its worst: every try at its timeout
(the smaller of the state's ``TimeoutSeconds`` and its Lambda function's ``Timeout``), every
retry taken (all retriers' ``MaxAttempts``), every backoff at its largest (``IntervalSeconds *
BackoffRate**n`` capped by ``MaxDelaySeconds``; ``JitterStrategy: FULL`` only shortens it).
Wait states count their ``Seconds``, or for ``SecondsPath`` the bound the caller guarantees.
A cycle is allowed only through a *gate* state the caller bounds (the most times it is entered
in one execution); any other cycle is an error, as is a Task without a timeout.

Used by the tests to prove the fix workflow fits Express's 5 minutes (``EXPRESS_LIMIT_S``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

EXPRESS_LIMIT_S = 300  # an Express execution ends after 5 minutes, uncatchably
DEFAULT_MAX_ATTEMPTS = 3  # ASL defaults of a retrier
DEFAULT_INTERVAL_S = 1.0
DEFAULT_BACKOFF = 2.0


class BudgetError(ValueError):
    """The definition has a path whose duration cannot be bounded."""


@dataclass(frozen=True)
class Bounds:
    """What the definition alone does not say."""

    lambda_timeouts: Mapping[str, float] = field(default_factory=dict)  # Task state -> seconds
    wait_seconds: Mapping[str, float] = field(default_factory=dict)  # SecondsPath Wait -> max
    gates: Mapping[str, int] = field(default_factory=dict)  # state -> most entries per execution


@dataclass(frozen=True)
class PathCost:
    """The slowest path and its worst-case seconds."""

    seconds: float
    states: tuple[str, ...]


def retry_delays(retrier: Mapping[str, Any]) -> list[float]:
    """The backoff before each retry of one retrier, at its largest."""
    attempts = int(retrier.get("MaxAttempts", DEFAULT_MAX_ATTEMPTS))
    interval = float(retrier.get("IntervalSeconds", DEFAULT_INTERVAL_S))
    rate = float(retrier.get("BackoffRate", DEFAULT_BACKOFF))
    cap = retrier.get("MaxDelaySeconds")
    delays = [interval * rate ** n for n in range(attempts)]
    return [min(d, float(cap)) for d in delays] if cap is not None else delays


def try_seconds(name: str, state: Mapping[str, Any], bounds: Bounds) -> float:
    """The longest one try of a Task can take."""
    limits = [float(state["TimeoutSeconds"])] if "TimeoutSeconds" in state else []
    if name in bounds.lambda_timeouts:
        limits.append(float(bounds.lambda_timeouts[name]))
    if "TimeoutSecondsPath" in state or not limits:
        raise BudgetError(f"Task {name} has no static timeout")
    return min(limits)


def state_seconds(name: str, state: Mapping[str, Any], bounds: Bounds) -> float:
    """Worst-case seconds spent in one entry of ``state``."""
    kind = state.get("Type")
    if kind == "Task":
        one = try_seconds(name, state, bounds)
        delays = [d for r in state.get("Retry", []) for d in retry_delays(r)]
        return one * (1 + len(delays)) + sum(delays)
    if kind == "Wait":
        if "Seconds" in state:
            return float(state["Seconds"])
        if name in bounds.wait_seconds:
            return float(bounds.wait_seconds[name])
        raise BudgetError(f"Wait {name} has no static bound (SecondsPath/Timestamp)")
    if kind in ("Map", "Parallel"):
        raise BudgetError(f"{kind} state {name} is not supported by this checker")
    return 0.0


def successors(state: Mapping[str, Any]) -> list[str]:
    nxt = [state.get("Next"), state.get("Default"),
           *(c.get("Next") for c in state.get("Choices", [])),
           *(c.get("Next") for c in state.get("Catch", []))]
    return list(dict.fromkeys(n for n in nxt if n))


def _check_cycles(states: Mapping[str, Any], gates: Mapping[str, int]) -> None:
    """Every cycle passes a gate: the graph without gates is acyclic."""
    colour: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        colour[name] = 1
        for nxt in successors(states[name]):
            if nxt in gates:
                continue
            if colour.get(nxt) == 1:
                loop = trail[trail.index(nxt):] + [nxt] if nxt in trail else [name, nxt]
                raise BudgetError(f"unbounded cycle: {' -> '.join(loop)}")
            if nxt not in colour:
                visit(nxt, [*trail, nxt])
        colour[name] = 2

    for name in states:
        if name not in colour and name not in gates:
            visit(name, [name])


def worst_path(definition: Mapping[str, Any], bounds: Bounds = Bounds()) -> PathCost:
    """The slowest path of one execution of ``definition`` (see module docstring)."""
    states: Mapping[str, Any] = definition["States"]
    for name, st in states.items():
        for nxt in successors(st):
            if nxt not in states:
                raise BudgetError(f"{name} -> {nxt}: no such state")
    _check_cycles(states, bounds.gates)
    cost = {name: state_seconds(name, st, bounds) for name, st in states.items()}
    best = PathCost(0.0, ())

    def walk(name: str, spent: float, trail: tuple[str, ...], entries: dict[str, int]) -> None:
        nonlocal best
        limit = bounds.gates.get(name)
        if limit is not None and entries.get(name, 0) >= limit:
            return
        entries = {**entries, name: entries.get(name, 0) + 1}
        spent, trail = spent + cost[name], (*trail, name)
        if spent > best.seconds:
            best = PathCost(spent, trail)
        for nxt in successors(states[name]):
            walk(nxt, spent, trail, entries)

    walk(definition["StartAt"], 0.0, (), {})
    return best
