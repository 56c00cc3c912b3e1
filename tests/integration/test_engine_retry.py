"""A transient model error (ModelThrottled) is never retried inside the execution (the model
call is the longest state of Express's 5 minutes): the fix goes on in a new execution after a
backoff, runs InvokeModel again and succeeds."""

from __future__ import annotations

from pathlib import Path

from selfheal.domain.records import Status
from selfheal.errors import ModelThrottled
from selfheal.services.workflow.runner import run_execution
from tests.support.workflow_fakes import GOOD_REPLY, ScriptedModel, local_engine, make_services, seed_error


def test_throttled_model_is_retried_then_succeeds(tmp_path: Path) -> None:
    model = ScriptedModel([ModelThrottled("429 slow down"), ModelThrottled("429 again"), GOOD_REPLY])
    svc = make_services(tmp_path, model=model)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        out = run_execution(svc.store, engine, fp, timeout=60)
        history = engine.history(out.execution_id)

    assert out.status == Status.PR_OPEN and out.engine_status == "SUCCEEDED"
    assert len(model.calls) == 3
    assert not [e for e in history if e["type"] == "LambdaFunctionFailed"]  # deferred, not retried
    invoke = [v for v in out.path if v.state == "InvokeModel"]
    assert len(invoke) == 1 and invoke[0].tries == 3 and invoke[0].outcome == "succeeded"
    att = svc.store.get(fp).attempts[-1]  # type: ignore[union-attr]
    runs = [s for s in att.steps if s.state == "InvokeModel"]
    assert [s.outcome for s in runs] == ["retried", "retried", "succeeded"]
    assert runs[0].error == "ModelThrottled" and "429" in (runs[0].cause or "")
    waits = [s.duration_ms for s in att.steps
             if s.state == "Continued" and "ModelThrottled" in (s.cause or "")]
    assert waits == [15_000, 30_000]  # backoff between executions (no Retry-After was given)
