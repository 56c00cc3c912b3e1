"""Budget spent: every round invalid -> RecordAbstain, status ABSTAINED with the reasons; and a
model that declines (ABSTAIN:) abstains at once."""

from __future__ import annotations

from pathlib import Path

from selfheal.domain.records import Status
from selfheal.services.workflow.runner import run_execution
from tests.support.workflow_fakes import (
    GOOD_REPLY,
    ScriptedModel,
    ScriptedValidator,
    local_engine,
    make_services,
    seed_error,
)


def test_budget_spent_abstains_with_reasons(tmp_path: Path) -> None:
    validator = ScriptedValidator(["tests", "tests"])
    svc = make_services(tmp_path, model=ScriptedModel(["no blocks here", GOOD_REPLY]),
                        validator=validator, max_attempts=3)
    fp = seed_error(svc.store)
    # round 1: malformed reply; rounds 2 and 3: tests gate fails
    with local_engine(svc) as engine:
        out = run_execution(svc.store, engine, fp, timeout=60)

    assert out.engine_status == "SUCCEEDED" and out.status == Status.ABSTAINED
    assert validator.calls == 2
    assert len(out.reasons) == 4
    assert out.reasons[0].startswith("round 1: ModelReplyMalformed")
    assert out.reasons[1].startswith("round 2: gate tests failed")
    assert out.reasons[-1] == "no valid fix after 3 of 3 rounds"
    record = svc.store.get(fp)
    assert record is not None and "round 1" in (record.status_reason or "")
    assert record.attempts[-1].outcome == "abstained"
    assert [v.state for v in out.path][-1] == "RecordAbstain"
    assert svc.code_host.commits == {}  # type: ignore[attr-defined]


def test_model_abstention_ends_without_more_rounds(tmp_path: Path) -> None:
    model = ScriptedModel(["ABSTAIN: the crash is in a third-party library"])
    svc = make_services(tmp_path, model=model, max_attempts=3)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        out = run_execution(svc.store, engine, fp, timeout=60)
    assert out.status == Status.ABSTAINED and len(model.calls) == 1
    assert out.reasons == ["round 1: model abstained: the crash is in a third-party library"]
