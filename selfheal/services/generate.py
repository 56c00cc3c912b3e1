"""Fix generation: one model call for one attempt, guarded by the cost caps.

``FixGenerator.generate`` builds the prompt, checks the caps before calling, calls the model, prices
the reply, records usage, and parses the reply strictly against the offered files. A reply that does
not parse or touches a file that was not offered is a *rejected* result whose ``reason`` becomes the
next attempt's feedback; transient provider errors (``ModelThrottled``/``ModelUnavailable``) and
``CostCapReached`` propagate so the workflow can retry or stop.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel

from selfheal.domain.cost import CostGuard, PriceTable
from selfheal.domain.edit_format import parse_reply
from selfheal.domain.fixing import EditProposal, FixContext, ModelReply
from selfheal.domain.prompt import build_prompt, prompt_tokens
from selfheal.errors import EditRejected, ModelReplyMalformed
from selfheal.ports import FixModel
from selfheal.settings import Settings

log = logging.getLogger(__name__)
TRUNCATED = frozenset({"max_tokens", "length"})  # Bedrock/Anthropic and OpenAI spellings


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

    def generate(self, context: FixContext, attempt: int = 1, feedback: str | None = None, *,
                 fix_spent_usd: float = 0.0, record_attempt: int | None = None) -> GenerationResult:
        """Run one model call for ``context``.

        ``fix_spent_usd`` is what this fix has spent so far (the per-fix cap); ``record_attempt`` is
        the error record's attempt number to add usage to, when a usage recorder is configured.
        Raises ``CostCapReached`` before calling when a cap would be exceeded.
        """
        prompt = build_prompt(context, attempt, feedback, self.settings)
        tokens = prompt_tokens(prompt)
        model_id = self.model.model_id
        self.guard.check(model_id, tokens, prompt.max_output_tokens, fix_spent_usd)
        log.debug("prompt for %s attempt %d: ~%d tokens, %d sections", context.fingerprint[:12], attempt,
                  tokens, len(context.sections))
        reply = self.model.complete(prompt)
        cost = self.prices.price(reply.model_id or model_id).cost(reply.tokens_in, reply.tokens_out)
        reply = reply.model_copy(update={"cost_usd": cost})
        if self.usage is not None and record_attempt is not None:
            self.usage.add_usage(context.fingerprint, record_attempt, reply.tokens_in, reply.tokens_out, cost)
        short = context.fingerprint[:12]
        try:
            proposal = parse_reply(reply.text, context.offered_files)
        except (ModelReplyMalformed, EditRejected) as exc:
            log.info("model %s reply rejected for %s: %s", model_id, short, type(exc).__name__)
            reason = f"{type(exc).__name__}: {exc}"
            if reply.stop_reason in TRUNCATED:
                reason += (f" (the reply was cut off at the output limit of {prompt.max_output_tokens} "
                           "tokens: propose a smaller edit)")
            return GenerationResult(outcome="rejected", reason=reason, reply=reply,
                                    prompt_tokens_estimate=tokens)
        outcome: Literal["proposed", "abstained"] = "abstained" if proposal.abstained else "proposed"
        log.info("model %s %s for %s: %d in / %d out tokens, $%.4f", model_id, outcome, short,
                 reply.tokens_in, reply.tokens_out, cost)
        return GenerationResult(outcome=outcome, proposal=proposal, reason=proposal.abstain_reason,
                                reply=reply, prompt_tokens_estimate=tokens)
