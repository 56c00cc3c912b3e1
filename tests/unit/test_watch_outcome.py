"""``selfheal watch`` reports a finished fix by the error's outcome (PR_OPEN / ABSTAINED /
FAILED), never by the engine's SUCCEEDED (issue 13, point 3)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfheal.compose.watch import fix_outcome, fix_result
from selfheal.domain.records import Observation, Status
from selfheal.services.workflow.watch import LogFollower, Watcher
from selfheal.services.workflow.watch_events import FixEnded, FixStarted, WatchEvent
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
    assert fix_outcome(_store("abstained"), FP, 1, "SUCCEEDED") == "ABSTAINED"
    assert fix_outcome(_store("pr_open"), FP, 1, "SUCCEEDED") == "PR_OPEN"
    assert fix_outcome(_store("failed"), FP, 1, "SUCCEEDED") == "FAILED"


def test_a_run_that_recorded_nothing_is_failed_never_succeeded() -> None:
    assert fix_outcome(MemoryErrorStore(), FP, 1, "SUCCEEDED") == "FAILED"
    assert fix_outcome(_store("running"), FP, 1, "SUCCEEDED") == "FAILED"
    stuck = _store("running")
    stuck.transition(FP, Status.PR_OPEN)
    assert fix_outcome(stuck, FP, 1, "SUCCEEDED") == "PR_OPEN"  # the error's status says
    assert fix_outcome(_store("running"), FP, 1, "RUNNING") == "RUNNING"


@dataclass
class _Info:
    status: str


class _Dispatcher:
    def __init__(self) -> None:
        started = {"execution": "arn:x:feedfeedfeed-1", "fingerprint": FP, "attempt": 1}
        self.started = [type("Out", (), started)()]

    def submit(self, fingerprint: str, reason: Any = "new") -> None: ...

    def submit_report(self, report: Any) -> None: ...

    def collect_queued(self) -> int:
        return 0

    def drain(self) -> list[Any]:
        out, self.started = self.started, []
        return out


class _Ingest:
    def ingest_lines(self, lines: list[str], source: str) -> Any:
        return None


def test_the_watcher_reports_the_outcome_hook(tmp_path: Path) -> None:
    said: list[WatchEvent] = []
    store = _store("abstained")
    watcher = Watcher(follower=LogFollower(tmp_path / "app.log", tmp_path / "pos.json"), ingest=_Ingest(),
                      dispatcher=_Dispatcher(), wait_execution=lambda _e: _Info("SUCCEEDED"),
                      source="app.log", on_event=said.append,
                      outcome=lambda fp, n, info: fix_result(store, fp, n, info.status))
    watcher.step()
    watcher.reap_finished(lambda _e: _Info("SUCCEEDED"))
    assert [e.message for e in said] == ["started fix feedfeedfeed-1", "fix feedfeedfeed-1 ended: ABSTAINED"]
    assert said[0] == FixStarted(fingerprint=FP, attempt=1, execution="feedfeedfeed-1")
    assert isinstance(said[1], FixEnded)
    assert (said[1].outcome, said[1].engine_status, said[1].fingerprint) == ("ABSTAINED", "SUCCEEDED", FP)
