"""``selfheal watch`` reports a finished fix by the error's outcome (PR_OPEN / ABSTAINED /
FAILED), never by the engine's SUCCEEDED (issue 13, point 3)."""

from __future__ import annotations

from selfheal.compose.watch import fix_outcome
from selfheal.domain.records import Observation, Status
from tests.support.workflow_fakes import MemoryErrorStore

FP = "feed" * 16


def _store(outcome: str) -> MemoryErrorStore:
    store = MemoryErrorStore()
    store.observe(Observation(fingerprint=FP, exc_type="KeyError", message="'x'"))
    store.transition(FP, Status.FIXING)
    store.start_attempt(FP, f"arn:aws:states:local:0:execution:fix:{FP[:12]}-1")
    store.finish_attempt(FP, 1, outcome=outcome)
    return store


def test_engine_success_is_reported_as_the_error_outcome() -> None:
    arn = f"arn:aws:states:local:0:execution:fix:{FP[:12]}-1"
    assert fix_outcome(_store("abstained"), arn, "SUCCEEDED") == "ABSTAINED"
    assert fix_outcome(_store("pr_open"), arn, "SUCCEEDED") == "PR_OPEN"
    assert fix_outcome(_store("failed"), arn, "SUCCEEDED") == "FAILED"


def test_without_a_record_the_engine_status_is_translated() -> None:
    empty = MemoryErrorStore()
    assert fix_outcome(empty, "arn:x:ffffffffffff-1", "FAILED") == "FAILED"
    assert fix_outcome(empty, "arn:x:ffffffffffff-1", "TIMED_OUT") == "FAILED"
    # ended without recording an outcome: the error's status, else FAILED; never SUCCEEDED
    assert fix_outcome(_store("running"), f"{FP[:12]}-1", "SUCCEEDED") == "FAILED"
    stuck = _store("running")
    stuck.transition(FP, Status.PR_OPEN)
    assert fix_outcome(stuck, f"{FP[:12]}-1", "SUCCEEDED") == "PR_OPEN"
