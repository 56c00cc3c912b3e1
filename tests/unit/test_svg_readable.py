"""The execution drawing is readable at a glance (issue 13, point 8): no fan of edges from the
ResumeAt router, every edge label fully inside the picture and clear of every box, and a
re-driven run's resume edge highlighted. (Checked by eye too: rsvg-convert run.svg -o run.png.)"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from selfheal.adapters.sfn_local import DEFAULT_ASL
from selfheal.domain.records import Attempt, StepRecord
from selfheal.domain.svg import BOX_H, BOX_W, CHAR_W, LEFT, first_task, render_svg, resumed_at
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


def _left_curves(root: ElementTree.Element) -> list[ElementTree.Element]:
    return [p for p in root.iter(f"{NS}path") if (p.get("d") or "").startswith(f"M {LEFT}")]


@pytest.mark.parametrize("states", [FRESH, REDRIVEN])
def test_no_fan_of_edges_from_the_router(states: list[str]) -> None:
    root = draw(states, "abstained")
    # Route -> FetchSource, AfterFetch -> ResumeAt, CheckVerdict -> BuildPrompt, (+ the resume edge)
    assert len(_left_curves(root)) == 3 + (states is REDRIVEN)


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


def test_the_repair_loop_is_drawn_taken_only_when_it_was() -> None:
    def labels(states: list[str]) -> list[str | None]:
        att = Attempt(number=1, outcome="abstained", steps=[step(s, i) for i, s in enumerate(states)])
        path = path_from_attempt(att)
        svg = render_svg(ASL, run_status(ASL, path, "abstained"), visits=Counter(v.state for v in path))
        texts = ElementTree.fromstring(svg).iter(f"{NS}text")
        return [t.text for t in texts if t.get("class") == "edge-label"]

    once = ["FetchSource", "BuildPrompt", "InvokeModel", "ValidatePatch", "RecordAbstain"]
    twice = ["FetchSource", "BuildPrompt", "InvokeModel", "ValidatePatch",
             "BuildPrompt", "InvokeModel", "ValidatePatch", "RecordAbstain"]
    assert "invalid" not in labels(once)
    assert "invalid" in labels(twice)
