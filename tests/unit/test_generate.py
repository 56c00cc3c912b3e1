"""FixGenerator: prompt -> cap check -> model -> strict parse, with usage recorded."""

from __future__ import annotations

import logging

import pytest

from selfheal.domain.context import build_context
from selfheal.domain.edit_format import apply_proposal
from selfheal.domain.fixing import FixContext
from selfheal.errors import CostCapReached
from selfheal.services.generate import FixGenerator
from selfheal.settings import Settings
from tests.support.fixgen_models import ScriptedModel, UsageLedger
from tests.support.fixgen_repo import BILLING_FILES, MemoryRepository, billing_record

GOOD = """ROOT CAUSE: VAT_RATES has no entry for countries outside the EU/UK.
SUMMARY: charge no VAT where no rate is configured
<<<<<<< SEARCH src/billing/invoices.py
    rate = VAT_RATES[invoice.country]
=======
    rate = VAT_RATES.get(invoice.country, Decimal("0"))
>>>>>>> REPLACE
"""


def _ctx() -> FixContext:
    return build_context(billing_record(), MemoryRepository(BILLING_FILES))


def test_proposal_usage_and_cost_are_recorded() -> None:
    ledger = UsageLedger()
    model = ScriptedModel([GOOD])
    gen = FixGenerator(model, Settings(), usage=ledger)
    ctx = _ctx()
    result = gen.generate(ctx, 1, None, record_attempt=2)
    assert result.outcome == "proposed" and result.feedback is None
    assert result.proposal is not None and result.proposal.summary.startswith("charge no VAT")
    changed = apply_proposal(ctx.files, result.proposal)
    assert 'VAT_RATES.get(invoice.country, Decimal("0"))' in changed["src/billing/invoices.py"]
    expected_cost = (result.reply.tokens_in * 3 + 200 * 15) / 1e6
    assert result.reply.cost_usd == pytest.approx(expected_cost)
    assert ledger.rows == [("f" * 40, 2, result.reply.tokens_in, 200, pytest.approx(expected_cost))]
    assert model.prompts[0].attempt == 1 and "rate = VAT_RATES[invoice.country]" in model.prompts[0].user


@pytest.mark.parametrize("reply, reason", [
    ("I think you should use .get()", "ModelReplyMalformed: reply has no edit blocks"),
    ("<<<<<<< SEARCH .github/workflows/ci.yml\nname: ci\n=======\nname: pwned\n>>>>>>> REPLACE\n",
     "EditRejected: edit of '.github/workflows/ci.yml' rejected"),
])
def test_rejected_replies_become_feedback_for_the_next_attempt(reply: str, reason: str) -> None:
    model = ScriptedModel([reply, GOOD])
    gen = FixGenerator(model, Settings())
    first = gen.generate(_ctx(), 1, None)
    assert first.outcome == "rejected" and first.proposal is None
    assert first.feedback is not None and first.feedback.startswith(reason)
    second = gen.generate(_ctx(), 2, first.feedback)
    assert second.outcome == "proposed"
    assert "=== BEGIN PREVIOUS ATTEMPT FEEDBACK" in model.prompts[1].user
    assert reason.split(":")[0] in model.prompts[1].user


def test_abstain() -> None:
    result = FixGenerator(ScriptedModel(["ABSTAIN: the rate table lives in the database"]), Settings()) \
        .generate(_ctx())
    assert result.outcome == "abstained" and result.reason == "the rate table lives in the database"


def test_caps_stop_before_the_model_is_called() -> None:
    model = ScriptedModel([GOOD])
    gen = FixGenerator(model, Settings(max_cost_per_fix_usd=0.05))
    with pytest.raises(CostCapReached, match="per-fix"):
        gen.generate(_ctx(), 1, None, fix_spent_usd=0.04)
    day = FixGenerator(model, Settings(max_cost_per_day_usd=1.0), usage=UsageLedger(already_today=0.99))
    with pytest.raises(CostCapReached, match="per-day"):
        day.generate(_ctx())
    assert model.prompts == []  # never called


def test_truncated_reply_says_so_in_the_feedback() -> None:
    class Truncating(ScriptedModel):
        def complete(self, prompt):  # type: ignore[no-untyped-def]
            return super().complete(prompt).model_copy(update={"stop_reason": "max_tokens"})

    result = FixGenerator(Truncating([GOOD.rsplit(">>>>>>>", 1)[0]]), Settings()).generate(_ctx())
    assert result.outcome == "rejected" and result.feedback is not None
    assert "not closed" in result.feedback and "cut off at the output limit of 4096" in result.feedback


def test_prompts_and_source_are_not_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="selfheal")
    FixGenerator(ScriptedModel([GOOD, "no blocks"]), Settings()).generate(_ctx())
    FixGenerator(ScriptedModel(["no blocks"]), Settings()).generate(_ctx())
    info = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "proposed" in info and "rejected" in info  # it does log outcomes ...
    for secret_ish in ("VAT_RATES", "def vat_for", "invoice.country", "=== BEGIN", "SEARCH"):
        assert secret_ish not in info  # ... but never the prompt, the source or the reply
