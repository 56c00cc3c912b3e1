"""Express within its limits, dynamically: a slow model and a repair round. Every execution the
fix runs in holds at most one long state (the model call or the validation), each execution's
actual path is within the static worst case of the checker, the repair round goes on in a new
execution with its feedback artifact, and no finished state is paid twice."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from selfheal.domain.asl_budget import EXPRESS_LIMIT_S, Bounds, state_seconds
from selfheal.domain.records import Status
from selfheal.services.workflow.runner import run_execution
from tests.support.deploy_sam import ASL
from tests.support.workflow_fakes import (
    GOOD_REPLY,
    ScriptedModel,
    ScriptedValidator,
    local_engine,
    make_services,
    seed_error,
)

LONG_STATES = {"InvokeModel", "ValidatePatch"}


class SlowModel(ScriptedModel):
    """Takes its time over every reply (a large model under load)."""

    def complete(self, prompt: Any) -> Any:
        time.sleep(0.3)
        return super().complete(prompt)


def test_a_slow_model_and_a_repair_round_stay_within_each_executions_budget(tmp_path: Path) -> None:
    model = SlowModel([GOOD_REPLY, GOOD_REPLY])
    validator = ScriptedValidator(["tests", None])  # round 1 fails the tests, round 2 passes
    svc = make_services(tmp_path, model=model, validator=validator)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        out = run_execution(svc.store, engine, fp, timeout=120, artifacts=svc.artifacts)
        arns = [e["executionArn"] for e in engine.client.list_executions(
            stateMachineArn=engine.state_machine())["executions"]]
        histories = [engine.history(arn) for arn in arns]

    assert out.status == Status.PR_OPEN and len(model.calls) == 2
    asl = json.loads(ASL.read_text(encoding="utf-8"))
    bounds = Bounds(wait_seconds={"RateLimitWait": 60})
    for history in histories:
        entered = [ev["stateEnteredEventDetails"]["name"] for ev in history
                   if ev["type"].endswith("StateEntered")]
        assert len(LONG_STATES & set(entered)) <= 1, entered
        worst = sum(state_seconds(n, asl["States"][n], bounds) for n in entered)
        assert worst <= EXPRESS_LIMIT_S - 30, (worst, entered)
    assert len(histories) == 5  # fetch+prompt+model | validate | prompt+model | validate | publish

    att = svc.store.get(fp).attempts[-1]  # type: ignore[union-attr]
    work = [(s.state, json.loads(Path(s.artifacts["input"]).read_text()).get("round"))
            for s in att.steps if s.state not in ("ContinueFix", "Continued")]
    assert len(work) == len(set(work))  # each state of each round ran once: nothing paid twice
    repair = [s for s in att.steps if s.state == "BuildPrompt"][1]
    given = json.loads(Path(repair.artifacts["input"]).read_text())
    assert given["round"] == 1 and given["artifacts"]["feedback"].endswith("round-1/feedback.txt")
    assert given["resume_from"] == "BuildPrompt"  # it started a new execution
