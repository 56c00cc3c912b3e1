"""Stop reasons through the real ASL and handlers: a filtered reply abstains after one call, an
empty cut-off reply is a repair round with its tokens recorded and a higher output cap, a context
window overflow is followed by a smaller context."""

from __future__ import annotations

from pathlib import Path

from selfheal.domain.fixing import ModelReply, Prompt
from selfheal.domain.records import Status
from selfheal.services.generate import SHRUNK_NOTE
from selfheal.services.workflow.runner import run_execution
from tests.support.workflow_fakes import GOOD_REPLY, local_engine, make_services, seed_error


class StopReasonModel:
    """A ``FixModel`` answering with scripted (text, stop reason, output tokens) replies."""

    model_id = "scripted"

    def __init__(self, *script: tuple[str, str, int]) -> None:
        self.script = list(script)
        self.calls: list[Prompt] = []

    def complete(self, prompt: Prompt) -> ModelReply:
        self.calls.append(prompt)
        text, stop, tokens_out = self.script.pop(0)
        return ModelReply(text=text, model_id=self.model_id, tokens_in=100, tokens_out=tokens_out,
                          stop_reason=stop)


def test_guardrail_abstains_after_one_call(tmp_path: Path) -> None:
    model = StopReasonModel(("", "guardrail_intervened", 5))
    svc = make_services(tmp_path, model=model, max_attempts=3)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        out = run_execution(svc.store, engine, fp, timeout=60)
    assert out.status == Status.ABSTAINED and len(model.calls) == 1
    assert any("guardrail_intervened" in r for r in out.reasons)
    record = svc.store.get(fp)
    assert record is not None and record.attempts[-1].tokens_out == 5


def test_empty_cut_off_reply_is_a_repair_round_with_a_higher_cap(tmp_path: Path) -> None:
    model = StopReasonModel(("", "max_tokens", 4096), (GOOD_REPLY, "end_turn", 40))
    svc = make_services(tmp_path, model=model, max_attempts=3, max_output_tokens_cut_off=8192)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        out = run_execution(svc.store, engine, fp, timeout=60)
    assert out.status == Status.PR_OPEN and len(model.calls) == 2
    assert [p.max_output_tokens for p in model.calls] == [4096, 8192]
    assert "cut off" in (model.calls[1].feedback or "")
    record = svc.store.get(fp)
    assert record is not None and record.attempts[-1].tokens_out == 4096 + 40  # both rounds counted


def test_context_window_exceeded_gets_a_smaller_context(tmp_path: Path) -> None:
    model = StopReasonModel(("", "model_context_window_exceeded", 0), (GOOD_REPLY, "end_turn", 40))
    svc = make_services(tmp_path, model=model, max_attempts=2)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        out = run_execution(svc.store, engine, fp, timeout=60)
    assert out.status == Status.PR_OPEN and len(model.calls) == 2
    assert not any(n.startswith(SHRUNK_NOTE) for n in model.calls[0].context.notes)
    assert any(n.startswith(SHRUNK_NOTE) for n in model.calls[1].context.notes)
