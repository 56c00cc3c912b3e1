"""Fix generation: one model call for one attempt, guarded by the cost caps.

``FixGenerator.generate`` builds the prompt, checks the caps before calling, calls the model, prices
the reply, records usage, and only then judges the reply (``judge_reply``: its stop reason first,
then a strict parse against the offered files). A reply that does not parse, touches a file that
was not offered, has no text, was cut off or did not fit the context window is a *rejected* result
whose ``reason`` becomes the next attempt's feedback (``next_round_limits`` sizes that round); a
guardrail or content filter is an abstention. Transient provider errors (``ModelThrottled``,
``ModelNotReady``, ``ModelUnavailable``) and ``CostCapReached`` propagate so the workflow can retry or
stop. The workflow's ValidatePatch and BuildPrompt steps use the same ``judge_reply`` and
``next_round_limits``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel

from selfheal.domain.context import estimate_tokens
from selfheal.domain.cost import CostGuard, PriceTable
from selfheal.domain.edit_format import parse_reply
from selfheal.domain.fixing import CodeSection, EditProposal, FixContext, ModelReply, Prompt
from selfheal.domain.prompt import build_prompt, failing_lines, prompt_tokens
from selfheal.errors import EditRejected, ModelReplyMalformed
from selfheal.ports import FixModel
from selfheal.settings import Settings

log = logging.getLogger(__name__)

# What a provider's stop reason means for the fix (Bedrock Converse, Anthropic, OpenAI spellings).
StopKind = Literal["complete", "truncated", "context_exceeded", "filtered"]
TRUNCATED = frozenset({"max_tokens", "length"})
CONTEXT_EXCEEDED = frozenset({"model_context_window_exceeded"})
FILTERED = frozenset({"guardrail_intervened", "content_filtered", "content_filter", "refusal"})
MIN_SECTIONS_TOKENS = 200  # a smaller context never shrinks below this (one failing-line window)
SHRUNK_NOTE = "context halved after the model's context window was exceeded"


def stop_kind(stop_reason: str | None) -> StopKind:
    """``truncated`` (cut off at the output cap), ``context_exceeded`` (the prompt did not fit),
    ``filtered`` (a guardrail, content filter or refusal: asking again does not help) or
    ``complete`` (end_turn, stop_sequence, tool_use, unknown or no reason)."""
    if stop_reason in TRUNCATED:
        return "truncated"
    if stop_reason in CONTEXT_EXCEEDED:
        return "context_exceeded"
    if stop_reason in FILTERED:
        return "filtered"
    return "complete"


class ReplyJudgement(BaseModel):
    """What one reply means: a proposal, an abstention (the model's or the provider's filter), or
    a rejection whose ``reason`` is the next round's feedback."""

    outcome: Literal["proposed", "abstained", "rejected"]
    proposal: EditProposal | None = None
    reason: str | None = None


def judge_reply(reply: ModelReply, offered_files: list[str], max_output_tokens: int) -> ReplyJudgement:
    """Judge ``reply`` by its stop reason first, then by its text. Usage must be recorded before
    this is called: every outcome here has already been paid for.

    - filtered -> abstained with that reason (no further call can pass the same filter);
    - context window exceeded -> rejected (the next round offers a smaller context);
    - no text -> rejected (a failed round, not a failed fix);
    - cut off at the output cap -> rejected with a cut-off note, whether or not it parsed;
    - otherwise the strict parse decides.
    """
    kind = stop_kind(reply.stop_reason)
    if kind == "filtered":
        return ReplyJudgement(outcome="abstained",
                              reason=f"the model provider stopped the reply ({reply.stop_reason})")
    if kind == "context_exceeded":
        return ReplyJudgement(outcome="rejected", reason=(
            f"the prompt exceeded the model's context window ({reply.stop_reason}); "
            "this round offers a smaller context"))
    cut_off = (f" (the reply was cut off at the output limit of {max_output_tokens} tokens: "
               "propose a smaller edit)") if kind == "truncated" else ""
    if not reply.text.strip():
        return ReplyJudgement(outcome="rejected",
                              reason=f"ModelReplyMalformed: the reply has no text (stop reason "
                                     f"{reply.stop_reason or 'none'}){cut_off}")
    try:
        proposal = parse_reply(reply.text, offered_files)
    except (ModelReplyMalformed, EditRejected) as exc:
        return ReplyJudgement(outcome="rejected", reason=f"{type(exc).__name__}: {exc}{cut_off}")
    if kind == "truncated":
        return ReplyJudgement(outcome="rejected", reason=(
            f"the reply was cut off at the output limit of {max_output_tokens} tokens, so its edit may "
            "be incomplete: propose a smaller edit"))
    outcome: Literal["proposed", "abstained"] = "abstained" if proposal.abstained else "proposed"
    return ReplyJudgement(outcome=outcome, proposal=proposal, reason=proposal.abstain_reason)


def _sections_tokens(context: FixContext) -> int:
    return sum(estimate_tokens(s.text) for s in context.sections)


def smaller_context(context: FixContext, app_roots: Sequence[str] = ()) -> FixContext:
    """``context`` with about half its source and trace, for a round after the prompt exceeded the
    model's context window: sections holding no failing line go first (last first), then the
    remaining ones are cut to their failing lines' neighbourhood; the trace keeps its tail."""
    target = max(MIN_SECTIONS_TOKENS, _sections_tokens(context) // 2)
    failing = {(path, line) for path, lines in failing_lines(context, app_roots).items() for line in lines}

    def holds_failing(sec: CodeSection) -> bool:
        return any(path == sec.path and sec.start_line <= line <= sec.end_line for path, line in failing)

    sections = list(context.sections)
    for sec in reversed(list(sections)):
        if sum(estimate_tokens(x.text) for x in sections) <= target or len(sections) == 1:
            break
        if not holds_failing(sec):
            sections.remove(sec)
    while sum(estimate_tokens(x.text) for x in sections) > target and len(sections) > 1:
        sections.pop()
    if sections and sum(estimate_tokens(x.text) for x in sections) > target:
        sections = [_window(sections[0], failing, target)]
    trace_lines = context.trace.splitlines()
    trace = "\n".join(trace_lines[len(trace_lines) // 2:]) + "\n" if len(trace_lines) > 8 else context.trace
    note = f"{SHRUNK_NOTE} ({len(context.sections)} -> {len(sections)} sections)"
    return context.model_copy(update={"sections": sections, "trace": trace, "notes": [*context.notes, note]})


def _window(section: CodeSection, failing: set[tuple[str, int]], target: int) -> CodeSection:
    """The part of ``section`` around its first failing line that fits ``target`` tokens."""
    lines = section.text.splitlines(keepends=True)
    per_line = max(1, estimate_tokens(section.text) // max(1, len(lines)))
    keep = max(3, target // per_line)
    hit = min((line for path, line in failing
               if path == section.path and section.start_line <= line <= section.end_line),
              default=section.start_line)
    first = max(0, min(hit - section.start_line - keep // 2, len(lines) - keep))
    chunk = lines[first:first + keep]
    return section.model_copy(update={"start_line": section.start_line + first,
                                      "end_line": section.start_line + first + len(chunk) - 1,
                                      "text": "".join(chunk), "kind": "window"})


def next_round_limits(previous_prompt: Prompt | None, previous_reply: ModelReply | None,
                      context: FixContext, settings: Settings) -> tuple[FixContext, int]:
    """The context and output cap of the next round, from how the previous reply stopped: after a
    cut-off, twice the previous cap up to ``max_output_tokens_cut_off`` (when set above it); after
    the context window was exceeded, half the previous round's context. A raised cap and a smaller
    context are kept by the rounds after (asking again with the bigger prompt would fail again)."""
    cap = settings.max_output_tokens
    if previous_prompt is None or previous_reply is None:
        return context, cap
    kept_cap = max(cap, previous_prompt.max_output_tokens)
    shrunk = any(n.startswith(SHRUNK_NOTE) for n in previous_prompt.context.notes)
    kept_context = previous_prompt.context if shrunk else context
    kind = stop_kind(previous_reply.stop_reason)
    if kind == "truncated":
        ceiling = max(cap, settings.max_output_tokens_cut_off)
        return kept_context, min(ceiling, max(kept_cap, previous_prompt.max_output_tokens * 2))
    if kind == "context_exceeded":
        return smaller_context(previous_prompt.context, settings.app_roots), kept_cap
    return kept_context, kept_cap


class UsageStore(Protocol):
    """The part of ``ErrorStore`` that records usage per attempt and sums it per day."""

    def add_usage(self, fingerprint: str, attempt: int, tokens_in: int, tokens_out: int,
                  cost_usd: float) -> None: ...

    def usage_since(self, since: datetime) -> float: ...


class GenerationResult(BaseModel):
    """The outcome of one model call: a proposal, an abstention, or a rejection with its reason."""

    outcome: Literal["proposed", "abstained", "rejected"]
    proposal: EditProposal | None = None
    reason: str | None = None  # abstain reason or rejection reason (next attempt's feedback)
    reply: ModelReply
    prompt_tokens_estimate: int = 0

    @property
    def feedback(self) -> str | None:
        """What the next attempt should be told, when this one was rejected."""
        return self.reason if self.outcome == "rejected" else None


class FixGenerator:
    """Prompt -> cost check -> model -> strict parse, for one attempt."""

    def __init__(self, model: FixModel, settings: Settings, guard: CostGuard | None = None,
                 usage: UsageStore | None = None, prices: PriceTable | None = None) -> None:
        self.model = model
        self.settings = settings
        self.prices = prices or PriceTable(overrides=settings.model_prices)
        self.guard = guard or CostGuard(settings.max_cost_per_fix_usd, settings.max_cost_per_day_usd,
                                        usage=usage, prices=self.prices)
        self.usage = usage

    def _record(self, context: FixContext, record_attempt: int | None, tokens_in: int, tokens_out: int,
                cost: float) -> None:
        if self.usage is not None and record_attempt is not None:
            self.usage.add_usage(context.fingerprint, record_attempt, tokens_in, tokens_out, cost)

    def generate(self, context: FixContext, attempt: int = 1, feedback: str | None = None, *,
                 fix_spent_usd: float = 0.0, record_attempt: int | None = None,
                 max_output_tokens: int | None = None) -> GenerationResult:
        """Run one model call for ``context`` (``next_round_limits`` gives a repair round's context
        and ``max_output_tokens``).

        ``fix_spent_usd`` is what this fix has spent so far (the per-fix cap); ``record_attempt`` is
        the error record's attempt number to add usage to, when a usage recorder is configured.
        Raises ``CostCapReached`` before calling when a cap would be exceeded.
        """
        prompt = build_prompt(context, attempt, feedback, self.settings)
        if max_output_tokens is not None:
            prompt = prompt.model_copy(update={"max_output_tokens": max_output_tokens})
        tokens = prompt_tokens(prompt)
        model_id = self.model.model_id
        self.guard.check(model_id, tokens, prompt.max_output_tokens, fix_spent_usd)
        log.debug("prompt for %s attempt %d: ~%d tokens, %d sections", context.fingerprint[:12], attempt,
                  tokens, len(context.sections))
        try:
            reply = self.model.complete(prompt)
        except ModelReplyMalformed as exc:
            # A body that is no reply at all may still say what it cost: record that, then fail.
            if exc.tokens_in or exc.tokens_out:
                cost = self.prices.price(model_id).cost(exc.tokens_in, exc.tokens_out)
                self._record(context, record_attempt, exc.tokens_in, exc.tokens_out, cost)
            raise
        cost = self.prices.price(reply.model_id or model_id).cost(reply.tokens_in, reply.tokens_out)
        reply = reply.model_copy(update={"cost_usd": cost})
        # Usage first: whatever the reply turns out to be, its tokens were paid for.
        self._record(context, record_attempt, reply.tokens_in, reply.tokens_out, cost)
        judged = judge_reply(reply, context.offered_files, prompt.max_output_tokens)
        log.info("model %s %s for %s (stop %s): %d in / %d out tokens, $%.4f", model_id, judged.outcome,
                 context.fingerprint[:12], reply.stop_reason, reply.tokens_in, reply.tokens_out, cost)
        return GenerationResult(outcome=judged.outcome, proposal=judged.proposal, reason=judged.reason,
                                reply=reply, prompt_tokens_estimate=tokens)
