"""Every stop reason has a meaning: usage first, then the stop reason, then the strict parse."""

from __future__ import annotations

import pytest

from selfheal.domain.context import build_context
from selfheal.domain.fixing import FixContext, ModelReply, Prompt
from selfheal.domain.prompt import failing_lines
from selfheal.services.generate import (
    SHRUNK_NOTE,
    FixGenerator,
    judge_reply,
    next_round_limits,
    smaller_context,
    stop_kind,
)
from selfheal.settings import Settings
from tests.support.fixgen_models import UsageLedger
from tests.support.fixgen_repo import BILLING_FILES, MemoryRepository, billing_record
from tests.unit.test_generate import GOOD


def _ctx() -> FixContext:
    return build_context(billing_record(), MemoryRepository(BILLING_FILES))


def _reply(text: str, stop: str | None, tokens_out: int = 200) -> ModelReply:
    return ModelReply(text=text, model_id="m", tokens_in=1000, tokens_out=tokens_out, stop_reason=stop)


OFFERED = ["src/billing/invoices.py"]


@pytest.mark.parametrize("stop, kind", [
    ("end_turn", "complete"), ("stop_sequence", "complete"), ("tool_use", "complete"), ("stop", "complete"),
    (None, "complete"), ("max_tokens", "truncated"), ("length", "truncated"),
    ("model_context_window_exceeded", "context_exceeded"), ("guardrail_intervened", "filtered"),
    ("content_filtered", "filtered"), ("content_filter", "filtered"), ("refusal", "filtered"),
])
def test_every_stop_reason_has_a_kind(stop: str | None, kind: str) -> None:
    assert stop_kind(stop) == kind


@pytest.mark.parametrize("stop", ["guardrail_intervened", "content_filtered", "content_filter", "refusal"])
def test_filters_abstain_with_their_reason(stop: str) -> None:
    judged = judge_reply(_reply(GOOD, stop), OFFERED, 4096)  # even a parseable text is not trusted
    assert judged.outcome == "abstained" and judged.proposal is None and stop in (judged.reason or "")


def test_cut_off_is_a_repair_round_whether_or_not_it_parsed() -> None:
    parsed = judge_reply(_reply(GOOD, "max_tokens"), OFFERED, 4096)
    assert parsed.outcome == "rejected" and "cut off at the output limit of 4096" in (parsed.reason or "")
    broken = judge_reply(_reply(GOOD.rsplit(">>>>>>>", 1)[0], "max_tokens"), OFFERED, 4096)
    assert broken.outcome == "rejected" and "cut off" in (broken.reason or "")
    assert judge_reply(_reply(GOOD, "end_turn"), OFFERED, 4096).outcome == "proposed"


@pytest.mark.parametrize("stop", ["max_tokens", "end_turn", None])
def test_empty_text_is_a_failed_round(stop: str | None) -> None:
    judged = judge_reply(_reply("", stop), OFFERED, 4096)
    assert judged.outcome == "rejected" and "no text" in (judged.reason or "")


def test_context_window_exceeded_is_a_repair_round() -> None:
    judged = judge_reply(_reply("", "model_context_window_exceeded"), OFFERED, 4096)
    assert judged.outcome == "rejected" and "context window" in (judged.reason or "")


class _Replies:
    model_id = "claude-sonnet-4-5"

    def __init__(self, *replies: ModelReply) -> None:
        self.replies, self.prompts = list(replies), []  # type: ignore[var-annotated]

    def complete(self, prompt: Prompt) -> ModelReply:
        self.prompts.append(prompt)
        return self.replies.pop(0)


def test_usage_is_recorded_before_the_reply_is_judged() -> None:
    ledger = UsageLedger()
    model = _Replies(_reply("", "max_tokens", tokens_out=4096))  # an empty content list, cut off
    result = FixGenerator(model, Settings(), usage=ledger).generate(_ctx(), record_attempt=1)
    assert result.outcome == "rejected" and result.reply.tokens_out == 4096
    assert [(r[2], r[3]) for r in ledger.rows] == [(1000, 4096)] and ledger.rows[0][4] > 0


def test_cut_off_raises_the_output_cap_up_to_the_configured_ceiling() -> None:
    ctx = _ctx()
    settings = Settings(max_output_tokens=4096, max_output_tokens_cut_off=10_000)
    first = Prompt(system="s", user="u", context=ctx, max_output_tokens=4096)
    _, cap = next_round_limits(first, _reply("x", "max_tokens"), ctx, settings)
    assert cap == 8192
    second = first.model_copy(update={"max_output_tokens": cap})
    assert next_round_limits(second, _reply("x", "max_tokens"), ctx, settings)[1] == 10_000
    assert next_round_limits(second, _reply("x", "end_turn"), ctx, settings)[1] == 8192  # kept
    # not configured: the cap stays, the cut-off note in the feedback is what changes
    assert next_round_limits(first, _reply("x", "max_tokens"), ctx, Settings())[1] == 4096
    model = _Replies(_reply(GOOD, "end_turn"))
    FixGenerator(model, settings).generate(ctx, 2, "cut off", max_output_tokens=cap)
    assert model.prompts[0].max_output_tokens == 8192


def test_context_window_exceeded_halves_the_context_and_keeps_it_halved() -> None:
    big = _ctx()
    extra = [s.model_copy(update={"path": "src/billing/other.py", "text": s.text * 4}) for s in big.sections]
    ctx = big.model_copy(update={"sections": [*big.sections, *extra]})
    first = Prompt(system="s", user="u", context=ctx)
    smaller, _ = next_round_limits(first, _reply("", "model_context_window_exceeded"), ctx, Settings())
    size = lambda c: sum(len(s.text) for s in c.sections)  # noqa: E731
    assert size(smaller) <= size(ctx) // 2 + 400 and smaller.sections
    assert any(n.startswith(SHRUNK_NOTE) for n in smaller.notes)
    failing = [(p, ln) for p, lines in failing_lines(ctx, Settings().app_roots).items() for ln in lines]
    assert failing and all(any(s.path == p and s.start_line <= ln <= s.end_line for s in smaller.sections)
                           for p, ln in failing)  # every failing line is still shown
    after = Prompt(system="s", user="u", context=smaller)
    kept, _ = next_round_limits(after, _reply("no blocks", "end_turn"), ctx, Settings())
    assert kept == smaller  # a malformed reply does not bring the big context back
    again = smaller_context(smaller)
    assert size(again) <= size(smaller)
