"""The execution drawing is readable at a glance (issue 13, point 8): no fan of edges from the
ResumeAt router, no fan of jumps through the left margin into one merge state (ContinueFix is
fed by a bus instead), every edge label fully inside the picture and clear of every box, and a
re-driven run's resume edge highlighted. (Checked by eye too: rsvg-convert run.svg -o run.png.)"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from selfheal.adapters.sfn_local import DEFAULT_ASL
from selfheal.domain.records import Attempt, StepRecord
from selfheal.domain.svg import (
    BOX_H,
    BOX_W,
    CHAR_W,
    LEFT,
    ROUTER_CHOICES,
    first_task,
    is_router,
    render_svg,
    resumed_at,
)
from selfheal.services.workflow.history import path_from_attempt, run_status

ASL = json.loads(DEFAULT_ASL.read_text())
NS = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def step(state: str, sec: int) -> StepRecord:
    return StepRecord(state=state, started_at=T0 + timedelta(seconds=sec), outcome="succeeded",
                      finished_at=T0 + timedelta(seconds=sec, milliseconds=500), duration_ms=500)


def draw(states: list[str], outcome: str) -> ElementTree.Element:
    att = Attempt(number=2, outcome=outcome, steps=[step(s, i) for i, s in enumerate(states)])  # type: ignore[arg-type]
    path = path_from_attempt(att)
    svg = render_svg(ASL, run_status(ASL, path, outcome), {v.state: f"{v.duration_ms} ms" for v in path},
                     title="run", resumed=resumed_at(ASL, path[0].state))
    return ElementTree.fromstring(svg)


FRESH = ["FetchSource", "BuildPrompt", "InvokeModel", "ValidatePatch", "RecordAbstain"]
REDRIVEN = ["InvokeModel", "ValidatePatch", "RecordAbstain"]


def _edges_from(root: ElementTree.Element, state: str) -> list[ElementTree.Element]:
    """Edge paths that start on ``state``'s box (its left side or its bottom)."""
    (rect,) = [r for g in root.iter(f"{NS}g") if g.get("data-state") == state for r in g.iter(f"{NS}rect")]
    x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
    starts = {f"M {x} {y + BOX_H / 2}", f"M {x + BOX_W / 2} {y + BOX_H}", f"M {x + BOX_W} {y + BOX_H / 2}"}
    return [p for p in root.iter(f"{NS}path") if any((p.get("d") or "").startswith(s + " ") for s in starts)]


@pytest.mark.parametrize("states", [FRESH, REDRIVEN])
def test_no_fan_of_edges_from_the_router(states: list[str]) -> None:
    router = next(n for n, st in ASL["States"].items() if is_router(st))
    root = draw(states, "abstained")
    # the router fans out to every resumable state; only a re-drive's one edge is drawn
    assert len(_edges_from(root, router)) == (1 if states is REDRIVEN else 0)


def test_a_redriven_run_highlights_its_resume_edge_only() -> None:
    assert first_task(ASL) == "FetchSource"
    assert resumed_at(ASL, "FetchSource") is None and resumed_at(ASL, "InvokeModel") == "InvokeModel"
    fresh, redriven = draw(FRESH, "abstained"), draw(REDRIVEN, "abstained")
    assert [p for p in fresh.iter(f"{NS}path") if p.get("class") == "edge resume"] == []
    (edge,) = [p for p in redriven.iter(f"{NS}path") if p.get("class") == "edge resume"]
    assert edge.get("marker-end") == "url(#arrow-resume)" and float(edge.get("stroke-width", 0)) > 2
    labels = [t.text for t in redriven.iter(f"{NS}text") if t.get("class") == "edge-label"]
    assert "resume" in labels
    groups = [g for g in redriven.iter(f"{NS}g") if g.get("data-state")]
    status = {g.get("data-state"): g.get("data-status") for g in groups}
    assert status["ResumeAt"] == "succeeded" and status["FetchSource"] == "not visited"
    notes = [t.text for t in redriven.iter(f"{NS}text")]
    assert "resumed at InvokeModel" in notes


@pytest.mark.parametrize("states", [FRESH, REDRIVEN])
def test_edge_labels_are_inside_the_picture_and_clear_of_boxes(states: list[str]) -> None:
    root = draw(states, "abstained")
    width = float(root.get("width", 0))
    boxes = [(float(r.get("x", 0)), float(r.get("y", 0))) for g in root.iter(f"{NS}g") if g.get("data-state")
             for r in g.iter(f"{NS}rect")]
    top = 24  # the title's translate
    labels = [t for t in root.iter(f"{NS}text") if t.get("class") == "edge-label"]
    assert {t.text for t in labels} >= {"default"}
    for t in labels:
        x, y, w = float(t.get("x", 0)), float(t.get("y", 0)) + top, CHAR_W * len(t.text or "")
        x0 = x - w if t.get("text-anchor") == "end" else x
        assert x0 >= 0 and x0 + w <= width, t.text
        for bx, by in boxes:
            overlaps = x0 < bx + BOX_W and bx < x0 + w and y - 9 < by + top + BOX_H and by + top < y
            assert not overlaps, (t.text, x0, y, bx, by)


def test_a_caught_state_does_not_light_up_its_next_choice() -> None:
    att = Attempt(number=1, outcome="failed", steps=[
        StepRecord(state="FetchSource", started_at=T0, outcome="failed", error="CodeHostForbidden"),
        StepRecord(state="RecordFailure", started_at=T0 + timedelta(seconds=1), outcome="succeeded")])
    status = run_status(ASL, path_from_attempt(att), "failed")
    assert status["FetchSource"] == "caught" and "AfterFetch" not in status
    assert status["Failed"] == "failed"


def test_a_loop_back_is_drawn_taken_only_when_it_was() -> None:
    loop = {"StartAt": "Build", "States": {
        "Build": {"Type": "Task", "Next": "Check"},
        "Check": {"Type": "Choice", "Default": "Done",
                  "Choices": [{"Variable": "$.v", "StringEquals": "invalid", "Next": "Build"}]},
        "Done": {"Type": "Succeed"}}}
    status = {"Build": "succeeded", "Check": "succeeded", "Done": "succeeded"}

    def labels(visits: dict[str, int]) -> list[str | None]:
        svg = render_svg(loop, status, visits=Counter(visits))
        texts = ElementTree.fromstring(svg).iter(f"{NS}text")
        return [t.text for t in texts if t.get("class") == "edge-label"]

    assert "invalid" not in labels({"Build": 1, "Check": 1})
    assert "invalid" in labels({"Build": 2, "Check": 2})


def _points(path: ElementTree.Element) -> list[tuple[float, float]]:
    nums = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d") or "")]
    return list(zip(nums[::2], nums[1::2], strict=True))


def _boxes(root: ElementTree.Element) -> dict[str, tuple[float, float]]:
    return {str(g.get("data-state")): (float(r.get("x", 0)), float(r.get("y", 0)))
            for g in root.iter(f"{NS}g") if g.get("data-state") for r in g.iter(f"{NS}rect")}


def _margin_edges_into(root: ElementTree.Element) -> Counter[str]:
    """state -> how many edges end on its left side after passing through the left margin."""
    into: Counter[str] = Counter()
    for name, (bx, by) in _boxes(root).items():
        for p in root.iter(f"{NS}path"):
            pts = _points(p)
            if pts and pts[-1] == (bx, by + BOX_H / 2) and min(x for x, _ in pts) < LEFT:
                into[name] += 1
    return into


# S0 P0 S1 P1 ... S4 P4 Merge down the main line: P0..P3 all jump round the margin into Merge
MERGE = {"StartAt": "S0", "States": {
    **{k: v for i in range(5) for k, v in ((f"S{i}", {"Type": "Task", "Next": f"P{i}"}),
                                           (f"P{i}", {"Type": "Pass", "Next": "Merge"}))},
    "Merge": {"Type": "Task", "Next": "End"}, "End": {"Type": "Succeed"}}}


@pytest.mark.parametrize("states", [FRESH, REDRIVEN, ["ContinueFix", "ContinueRoute", "Requeue"]])
def test_no_fan_of_margin_edges_into_one_state(states: list[str]) -> None:
    root = draw(states, "abstained")
    fans = {name: n for name, n in _margin_edges_into(root).items() if n > ROUTER_CHOICES}
    assert fans == {}
    # the merge is still drawn: every jump into ContinueFix is a stub that reaches its bus
    (bus,) = [p for p in root.iter(f"{NS}path") if p.get("data-target") == "ContinueFix"]
    (bx, top), (_, bottom), *_ = _points(bus)
    stubs = [p for p in root.iter(f"{NS}path") if p.get("class") == "edge bus-stub"]
    feeders = [n for n, st in ASL["States"].items()
               if not is_router(st) and "ContinueFix" in {st.get("Next"), st.get("Default"),
                                                          *(c["Next"] for c in st.get("Choices", []))}]
    assert len(stubs) >= ROUTER_CHOICES + 1 and len(stubs) <= len(feeders)
    for stub in stubs:
        (_, y0), (x1, y1) = _points(stub)
        assert x1 == bx and y0 == y1 and top <= y1 <= bottom
    assert _points(bus)[-1] == (LEFT + BOX_W, _boxes(root)["ContinueFix"][1] + BOX_H / 2)
    for t in root.iter(f"{NS}text"):  # no edge label is crossed by the bus line
        if t.get("class") == "edge-label" and top <= float(t.get("y", 0)) <= bottom:
            x, w = float(t.get("x", 0)), CHAR_W * len(t.text or "")
            x0 = x - w if t.get("text-anchor") == "end" else x
            assert not x0 <= bx <= x0 + w, t.text


def test_many_jumps_into_one_state_become_one_bus_edge() -> None:
    root = ElementTree.fromstring(render_svg(MERGE, {"S0": "succeeded"}))
    assert _margin_edges_into(root) == Counter()
    assert len([p for p in root.iter(f"{NS}path") if p.get("class") == "edge bus-stub"]) == 4
    (bus,) = [p for p in root.iter(f"{NS}path") if p.get("class") == "edge bus"]
    assert bus.get("data-target") == "Merge" and bus.get("marker-end")
