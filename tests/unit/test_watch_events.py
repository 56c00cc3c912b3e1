"""``watch``'s typed events: every kind documented in docs/usage.md with exactly its fields, JSON
that a machine reads without parsing English, a human line derived from the fields (log text
made printable), and the compose layer turning records and reports into them."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from selfheal.cli.workflow import _watch_printer
from selfheal.compose.watch import WatchSession, fix_result, housekeeping_events
from selfheal.domain.records import Observation, Status, utcnow
from selfheal.errors import CodeHostUnavailable, MalformedInput
from selfheal.services.pr_sync import SyncReport
from selfheal.services.workflow.sweeper import SweepReport
from selfheal.services.workflow.watch import LogFollower, Watcher
from selfheal.services.workflow.watch_events import (
    EVENT_KINDS,
    FixAbandoned,
    FixEnded,
    HousekeepingFailed,
    Ingested,
    NewError,
    PrSync,
    RegressedError,
    SkippedInput,
    Stopping,
    Summary,
    Sweep,
    WatchEvent,
    Watching,
)
from tests.support.workflow_fakes import MemoryErrorStore

USAGE = (Path(__file__).resolve().parents[2] / "docs" / "usage.md").read_text(encoding="utf-8")
FP = "feed" * 16


def _doc_rows() -> dict[str, str]:
    """The ``watch --json`` table of docs/usage.md: event kind -> its fields cell."""
    section = USAGE.split("### `watch --json` events", 1)[1].split("\n#", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[2]
    return rows


def _sample(kind: type[WatchEvent]) -> WatchEvent:
    """An instance of ``kind`` with every field set (strings with a control character)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(kind):
        values[f.name] = 2 if f.type in ("int", int) else f"{f.name} \x1b[31mred\nline"
    return kind(**values)


def test_every_kind_is_documented_with_exactly_its_fields() -> None:
    rows = _doc_rows()
    assert set(rows) == set(EVENT_KINDS)
    for kind, cls in EVENT_KINDS.items():
        named = set(re.findall(r"`([a-z_]+)`", rows[kind]))  # field names; values are upper case
        assert set(cls.field_names()) <= named, kind
        assert named - set(cls.field_names()) <= {"housekeeping", "sweep", "null"}, (kind, named)


@pytest.mark.parametrize("kind", sorted(EVENT_KINDS))
def test_each_event_is_one_json_object_with_its_fields_and_a_printable_message(kind: str) -> None:
    event = _sample(EVENT_KINDS[kind])
    data = json.loads(json.dumps(event.as_json()))
    assert list(data)[0] == "event" and data["event"] == kind and list(data)[-1] == "message"
    assert set(data) == {"event", "message", *EVENT_KINDS[kind].field_names()}
    assert {k: v for k, v in data.items() if k not in ("event", "message")} == dataclasses.asdict(event)
    # the human line: one line, no terminal escape from log text
    assert "\n" not in event.message and "\x1b" not in event.message and event.message


def test_log_text_is_whole_in_json_and_printable_in_the_message() -> None:
    text = "bad \x1b]8;;http://evil\x07link\n" + "x" * 300
    event = NewError(fingerprint=FP, exc_type="KeyError", error_message=text)
    assert event.as_json()["error_message"] == text
    assert json.loads(json.dumps(event.as_json()))["error_message"] == text
    assert event.message.startswith(f"new error {FP[:12]}: KeyError: bad \\x1b]8;;http://evil\\x07link\\x0a")
    assert event.message.endswith("…") and len(event.message) < 200
    flipped = NewError(fingerprint=FP, exc_type="ValueError", error_message="id \u202egnp.exe\u2028x")
    assert flipped.message.endswith("ValueError: id \\u202egnp.exe\\u2028x")


def _record(store: MemoryErrorStore, outcome: str, **fields: Any) -> None:
    store.observe(Observation(fingerprint=FP, exc_type="KeyError", message="'x'"))
    store.transition(FP, Status.FIXING)
    store.start_attempt(FP, f"arn:aws:states:local:0:execution:fix:{FP[:12]}-1")
    store.finish_attempt(FP, 1, outcome=outcome, **fields)


def test_fix_result_carries_what_the_record_says() -> None:
    failed = MemoryErrorStore()
    _record(failed, "failed", failed_state="ValidatePatch", error="TestsFailed", cause="2 tests failed")
    assert fix_result(failed, FP, 1, "SUCCEEDED").outcome == "FAILED"
    result = fix_result(failed, FP, 1, "FAILED")
    assert (result.failed_state, result.error, result.reason, result.pr_url) == (
        "ValidatePatch", "TestsFailed", "2 tests failed", None)
    abstained = MemoryErrorStore()
    _record(abstained, "abstained", reasons=["not verified", "second"])
    assert fix_result(abstained, FP, 1, "SUCCEEDED").reason == "not verified"
    opened = MemoryErrorStore()
    _record(opened, "pr_open")
    opened.transition(FP, Status.PR_OPEN, fields={"pr_url": "https://example.test/pr/7", "branch": "b"})
    assert fix_result(opened, FP, 1, "SUCCEEDED").pr_url == "https://example.test/pr/7"
    ended = FixEnded(fingerprint=FP, attempt=1, execution="feedfeedfeed-1", outcome="FAILED",
                     engine_status="SUCCEEDED", failed_state="ValidatePatch", error="TestsFailed",
                     reason="2 tests failed")
    assert ended.message == "fix feedfeedfeed-1 ended: FAILED in ValidatePatch (TestsFailed: 2 tests failed)"


def test_housekeeping_reports_sweep_and_sync_as_events_and_a_failed_sweep_is_not_fatal() -> None:
    swept = SweepReport(lost=[(FP, 1, "GenerateFix")], pruned_worktrees=["/tmp/w"], settled=["beef" * 16])
    synced = SyncReport(checked_at=utcnow(), checked=3, resolved=[FP], problems=["github: 502"])
    events = housekeeping_events(lambda: swept, lambda: synced)
    assert events == [Sweep(lost=1, continuations_started=0, settled=1, worktrees_removed=1),
                      PrSync(checked=3, resolved=1, failed=0, problems=1, problem="github: 502")]
    assert events[0].message == f"sweep: {swept.summary()}"  # the words `selfheal fix` prints
    assert events[1].message == ("PR sync: 1 resolved (PR merged), 0 failed (PR closed), "
                                 "1 problem(s): github: 502")
    quiet = SyncReport(checked_at=utcnow(), checked=2)
    assert housekeeping_events(lambda: SweepReport(checked=4), lambda: quiet) == []  # nothing done

    def broken() -> SweepReport:
        raise CodeHostUnavailable("disk gone")

    assert housekeeping_events(broken, None) == [
        HousekeepingFailed(task="sweep", error="CodeHostUnavailable", reason="disk gone")]
    assert housekeeping_events(broken, None)[0].message == "sweep: failed: CodeHostUnavailable: disk gone"


class _Report:
    tracebacks, distinct = 3, 2
    new = [FP]
    regressed = ["beef" * 16]
    ignored: list[str] = []
    to_fix: list[str] = []


class _Ingest:
    def ingest_lines(self, lines: list[str], source: str) -> Any:
        return _Report() if lines else None


class _Dispatcher:
    def submit(self, fingerprint: str, reason: Any = "new") -> None: ...

    def submit_report(self, report: Any) -> None: ...

    def collect_queued(self) -> int:
        return 0

    def drain(self) -> list[Any]:
        return []


def test_the_watcher_reports_ingested_lines_and_new_and_regressed_errors(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("a\nb\nc\n")
    store = MemoryErrorStore()
    store.observe(Observation(fingerprint=FP, exc_type="KeyError", message="'order_items'"))
    said: list[WatchEvent] = []
    watcher = Watcher(follower=LogFollower(log, tmp_path / "pos.json"), ingest=_Ingest(),
                      dispatcher=_Dispatcher(), wait_execution=lambda _e: None,
                      source=str(log), on_event=said.append, lookup=store.get)
    assert watcher.step()
    assert said == [Ingested(lines=3, tracebacks=3, distinct=2, new=1, regressed=1, ignored=0),
                    NewError(fingerprint=FP, exc_type="KeyError", error_message="'order_items'"),
                    RegressedError(fingerprint="beef" * 16, exc_type="?", error_message="")]
    assert said[0].message == "ingested 3 line(s): 3 traceback(s), 2 distinct, 1 new, 1 regressed"
    assert not said[0].routine and not said[1].routine
    assert Ingested(lines=9, tracebacks=2, distinct=1, new=0, regressed=0, ignored=0).routine  # known again
    said.clear()
    assert not watcher.step() and said == []  # nothing new: nothing said



def test_bad_input_is_skipped_once_and_what_follows_is_read(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("a\nb\n")
    said: list[WatchEvent] = []
    calls: list[list[str]] = []

    class Flaky:
        def ingest_lines(self, lines: list[str], source: str) -> Any:
            calls.append(list(lines))
            if len(calls) == 1:
                raise MalformedInput("line 1 is not \x1b[2Jtext")
            return _Report()

    watcher = Watcher(follower=LogFollower(log, tmp_path / "pos.json"), ingest=Flaky(),
                      dispatcher=_Dispatcher(), wait_execution=lambda _e: None, source=str(log),
                      poll_seconds=0.01, on_event=said.append)
    assert watcher.step()
    assert said == [SkippedInput(lines=2, reason="line 1 is not \x1b[2Jtext")]
    assert said[0].message == "skipped bad input (2 line(s)): line 1 is not \\x1b[2Jtext"
    assert not watcher.step() and calls == [["a", "b"]]  # not read again
    with log.open("a") as fh:
        fh.write("c\n")
    said.clear()
    watcher.stop()
    stats = watcher.run(describe=lambda _e: None)  # stopped: says so, then reads what is left
    assert calls[-1] == ["c"]
    assert [e.kind for e in said] == ["stopping", "ingested", "new_error", "regressed_error"]
    assert stats.summary() == Summary(lines=1, tracebacks=3, new_errors=1, fixes_started=0, fixes_finished=0)


RUN = [Watching(log="app.log"), Ingested(lines=5, tracebacks=1, distinct=1, new=0, regressed=0, ignored=0),
       NewError(fingerprint=FP, exc_type="KeyError", error_message="'x'"), Stopping(),
       Summary(lines=5, tracebacks=1, new_errors=1, fixes_started=0, fixes_finished=0)]


def test_people_read_lines_and_machines_read_only_json_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    human = _watch_printer(as_json=False)
    for event in RUN:
        human(event)
    out, err = capsys.readouterr()
    assert out.splitlines() == ["watching app.log (Ctrl-C to stop)", f"  new error {FP[:12]}: KeyError: 'x'",
                                "stopped: 5 lines, 1 tracebacks, 1 new errors, 0 fixes started, 0 finished"]
    assert err == "stopping: finishing what was read (again to abandon fixes in flight)\n"
    machine = _watch_printer(as_json=True)
    for event in RUN:
        machine(event)
    out, err = capsys.readouterr()
    assert [json.loads(line) for line in out.splitlines()] == [e.as_json() for e in RUN]  # routine ones too
    assert err.splitlines() == [RUN[0].message, RUN[3].message]


class _Starts:
    """A dispatcher whose one fix has started (attempt 1 of FP) and never ends."""

    def __init__(self) -> None:
        started = {"execution": f"arn:x:{FP[:12]}-1", "fingerprint": FP, "attempt": 1}
        self.started = [type("Out", (), started)()]

    def submit(self, fingerprint: str, reason: Any = "new") -> None: ...

    def submit_report(self, report: Any) -> None: ...

    def collect_queued(self) -> int:
        return 0

    def drain(self) -> list[Any]:
        out, self.started = self.started, []
        return out


def test_a_second_stop_abandons_fixes_in_flight_and_says_so(tmp_path: Path) -> None:
    store = MemoryErrorStore()
    store.observe(Observation(fingerprint=FP, exc_type="KeyError", message="'x'"))
    store.transition(FP, Status.FIXING)
    store.start_attempt(FP, f"arn:x:{FP[:12]}-1")
    said: list[WatchEvent] = []
    watcher = Watcher(follower=LogFollower(tmp_path / "app.log", tmp_path / "pos.json"), ingest=_Ingest(),
                      dispatcher=_Starts(), wait_execution=lambda _e: None, source="app.log",
                      on_event=said.append)
    watcher.step()
    WatchSession(watcher, store, describe=lambda _e: None, min_occurrences=1).abandon_in_flight()
    assert said[-1] == FixAbandoned(fingerprint=FP, attempt=1)
    assert said[-1].message == f"abandoned fix {FP[:12]}-1: FAILED (re-drive it: selfheal redrive {FP[:12]})"
    record = store.get(FP)
    assert record is not None and record.status == Status.FAILED and record.attempts[0].error == "Interrupted"
