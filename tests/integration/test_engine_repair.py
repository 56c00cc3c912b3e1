"""Validation failing twice then passing: the Choice loops back to BuildPrompt with the
validation feedback each time (the repair loop)."""

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


def test_validation_fails_twice_then_passes(tmp_path: Path) -> None:
    model = ScriptedModel([GOOD_REPLY])
    validator = ScriptedValidator(["tests", "lint"])
    svc = make_services(tmp_path, model=model, validator=validator, max_attempts=3)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        out = run_execution(svc.store, engine, fp, timeout=60)

    assert out.status == Status.PR_OPEN
    assert validator.calls == 3 and len(model.calls) == 3
    # each later prompt carries the previous round's feedback
    assert [p.attempt for p in model.calls] == [1, 2, 3]
    assert model.calls[0].feedback is None
    assert "gate tests failed" in (model.calls[1].feedback or "")
    assert "gate lint failed" in (model.calls[2].feedback or "")
    states = [v.state for v in out.path]
    assert states.count("BuildPrompt") == 3 and states.count("ValidatePatch") == 3
    assert states[-3:] == ["CommitBranch", "OpenPullRequest", "MarkDone"]
