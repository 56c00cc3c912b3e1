"""Prompt rendering: snapshot tests of the template output, delimiters, feedback."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from selfheal.domain.context import build_context
from selfheal.domain.fixing import FixContext
from selfheal.domain.prompt import build_prompt, prompt_tokens, render
from selfheal.domain.records import FrameRef
from selfheal.settings import Settings
from tests.support.fixgen_repo import BILLING_FILES, MemoryRepository, billing_record

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"


def _context() -> FixContext:
    rec = billing_record()
    rec.frames.insert(0, FrameRef(file="/var/runtime/bootstrap.py", function="handle_event_request",
                                  line=180))
    return build_context(rec, MemoryRepository(BILLING_FILES))


def _check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / f"prompt_{name}.txt"
    if os.environ.get("SELFHEAL_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing snapshot {path}; run with SELFHEAL_UPDATE_SNAPSHOTS=1 and review it"
    assert text == path.read_text(encoding="utf-8"), f"prompt differs from {path.name}"


def test_first_attempt_snapshot() -> None:
    p = build_prompt(_context(), 1, None, Settings())
    _check_snapshot("first_attempt", f"--- SYSTEM ---\n{p.system}--- USER ---\n{p.user}")
    assert p.attempt == 1 and p.feedback is None and p.max_output_tokens == 4096


def test_retry_snapshot_carries_redacted_feedback() -> None:
    feedback = ("PatchDoesNotApply: block 1: the SEARCH text was not found in src/billing/invoices.py\n"
                "tests failed: AssertionError for customer bob@example.com")
    p = build_prompt(_context(), 2, feedback, Settings())
    _check_snapshot("retry", p.user)
    assert "bob@example.com" not in p.user and "[REDACTED:email]" in p.user
    assert p.feedback is not None and "PatchDoesNotApply" in p.feedback


def test_sections_are_delimited_with_a_content_tag() -> None:
    ctx = _context()
    p = build_prompt(ctx, 1, None, Settings())
    tags = set(re.findall(r"=== (?:BEGIN|END) [A-Z ]+\[([0-9a-f]{12})\]", p.user))
    assert len(tags) == 1
    names = re.findall(r"=== BEGIN ([A-Z ]+?) \[", p.user)
    assert names[:3] == ["ERROR", "OCCURRENCES", "TRACE"] and "UNMAPPED FRAMES" in names
    assert names.count("CODE") == len(ctx.sections)
    # A different message gives a different tag: text cannot predict its own delimiter.
    other = build_prompt(ctx.model_copy(update={"message": "'FR'"}), 1, None, Settings())
    assert set(re.findall(r"\[([0-9a-f]{12})\] ===", other.user)) != tags
    assert 200 < prompt_tokens(p) < 3000


def test_long_feedback_keeps_its_tail() -> None:
    fb = "x" * 10_000 + "\nFAILED tests/test_invoices.py::test_vat"
    p = build_prompt(_context(), 3, fb, Settings(max_attempts=3))
    assert "FAILED tests/test_invoices.py::test_vat" in p.user and "characters cut" in p.user
    assert "attempt 3 of 3" in p.user


def test_render_does_not_rescan_inserted_values() -> None:
    assert render("a {{x}} b {{y}}", {"x": "{{y}}", "y": "Y"}) == "a {{y}} b Y"
    with pytest.raises(KeyError):
        render("{{missing}}", {})


def test_failing_lines_are_marked_on_their_sections() -> None:
    p = build_prompt(_context(), 1, None, Settings())
    heads = re.findall(r"=== BEGIN CODE \[[0-9a-f]+\] (\S+) lines (\d+)-(\d+) \(([^)]*)\) ===", p.user)
    marked = {(path, label) for path, _, _, label in heads if "failing" in label}
    assert ("src/billing/handler.py", "function; failing line 26") in marked
    assert any(p == "src/billing/invoices.py" and "failing lines 43, 49" in label for p, label in marked)
    # The unmapped runtime frame (bootstrap.py:180) marks nothing.
    assert all("180" not in label for _, label in marked)


def test_recorded_input_snapshot_shows_the_event_and_the_replay() -> None:
    from selfheal.domain.capture import make_input

    event = {"pathParameters": {"invoice_id": "INV-7"},
             "headers": {"Authorization": "Bearer abcdefghijklmnop"}}
    ctx = build_context(billing_record(), MemoryRepository(BILLING_FILES),
                        inputs=[make_input(event, "powertools", "rid-1")])
    assert ctx.entry == "billing.handler.get_invoice"
    p = build_prompt(ctx, 1, None, Settings())
    _check_snapshot("recorded_input", p.user)
    assert "=== BEGIN RECORDED INPUT" in p.user and "INV-7" in p.user and "abcdefghijklmnop" not in p.user
    assert "Regression test: no failing input" not in p.user
