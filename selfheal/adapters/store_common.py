"""Rules both ``ErrorStore`` adapters (``sqlite_store.py``, ``dynamodb_store.py``) apply the same
way: timestamp text, which fields ``transition`` and ``finish_attempt`` may set (scrubbed of
secrets), from which statuses a transition may start, and the scrubbing of every free-text field
a workflow writes (status reason, attempt error/cause/reasons, step error/cause)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from selfheal.domain.records import ALLOWED_TRANSITIONS, Status, StepRecord, check_transition
from selfheal.domain.redact import Redactor
from selfheal.errors import ConcurrentUpdate

ATTEMPT_FIELDS = frozenset({"outcome", "failed_state", "error", "cause", "reasons", "finished_at",
                            "execution"})
TRANSITION_FIELDS = frozenset({"branch", "pr_url", "previous_pr_url"})
# Free text a workflow writes from exception messages, model output and test output: the ingest
# path redacts what it stores, these fields reach the store without passing through it.
_ATTEMPT_TEXT = ("failed_state", "error", "cause")
_STEP_TEXT = ("error", "cause")


def scrub(text: str | None) -> str | None:
    """``text`` with known secret values (and their encodings), card numbers and the other
    redaction rules applied (``selfheal.domain.redact``); ``None`` stays ``None``."""
    if text is None:
        return None
    return Redactor().redact(text)


def scrub_step(step: StepRecord) -> StepRecord:
    """``step`` with its error and cause texts scrubbed (a copy)."""
    return step.model_copy(update={k: scrub(getattr(step, k)) for k in _STEP_TEXT})


def ts(value: datetime) -> str:
    """Fixed-width UTC ISO text (naive datetimes are taken as UTC), so text order is time order."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def transition_fields(fields: dict[str, Any] | None) -> dict[str, Any]:
    """The record fields ``transition`` may set with the status (a copy); ValueError for others."""
    fields = dict(fields or {})
    unknown = set(fields) - TRANSITION_FIELDS
    if unknown:
        raise ValueError(f"transition cannot set {sorted(unknown)}")
    return fields


def attempt_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields ``finish_attempt`` may set, with their free text scrubbed (a copy); ValueError
    for others."""
    unknown = set(fields) - ATTEMPT_FIELDS
    if unknown:
        raise ValueError(f"finish_attempt cannot set {sorted(unknown)}")
    out = dict(fields)
    for key in _ATTEMPT_TEXT:
        if isinstance(out.get(key), str):
            out[key] = scrub(out[key])
    if isinstance(out.get("reasons"), list):
        out["reasons"] = [scrub(r) if isinstance(r, str) else r for r in out["reasons"]]
    return out


def allowed_sources(to: Status, expected: Sequence[Status] | None) -> set[Status]:
    """The statuses a record may be in for ``transition(..., to, expected=...)`` to apply."""
    allowed = {s for s, targets in ALLOWED_TRANSITIONS.items() if to in targets}
    if expected is not None:
        allowed &= {Status(s) for s in expected}
    return allowed


def refused(fingerprint: str, current: Status, to: Status, expected: Sequence[Status] | None,
            allowed: set[Status]) -> ConcurrentUpdate:
    """Why a record in ``current`` (not in ``allowed``) cannot move to ``to``: raises
    ``InvalidTransition`` when the status machine forbids it (and ``current`` was expected),
    else returns the ``ConcurrentUpdate`` to raise (another writer's status is in the way)."""
    if expected is None or current in expected:
        check_transition(current, to)
    return ConcurrentUpdate(f"error {fingerprint} is {current}, expected one of {sorted(allowed)}")
