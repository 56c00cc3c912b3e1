"""Happy path: the real ASL in moto's interpreter, real handlers, to a pull request record."""

from __future__ import annotations

import json
from pathlib import Path

from selfheal.domain.records import Status
from selfheal.services.workflow.runner import ProgressEvent, run_execution
from tests.support.workflow_fakes import APP, local_engine, make_services, seed_error


def test_happy_path_opens_a_pull_request_and_records_every_state(tmp_path: Path) -> None:
    svc = make_services(tmp_path)
    fp = seed_error(svc.store)
    events: list[ProgressEvent] = []
    with local_engine(svc) as engine:
        out = run_execution(svc.store, engine, fp, progress=events.append, timeout=60)
        history = engine.history(out.execution_id)

    assert out.engine_status == "SUCCEEDED"
    assert out.status == Status.PR_OPEN
    record = svc.store.get(fp)
    assert record is not None and record.pr_url == out.pr_url and record.branch == f"selfheal/{fp[:12]}"
    host = svc.code_host
    assert "event.get('order_items', [])" in host.commits[record.branch][APP]  # type: ignore[attr-defined]
    # every state recorded on the attempt, in order, succeeded, with artifact references
    att = record.attempts[-1]
    # one start protocol (FixStarter): the attempt records the started execution's id, as on AWS
    assert att.outcome == "pr_open" and att.execution == out.execution_id.rsplit("-c", 1)[0]
    assert att.execution.rsplit(":", 1)[-1] == out.execution_name  # the attempt's first execution
    # three executions: the model's reply is validated, and a valid fix published, in new ones
    assert [s.state for s in att.steps] == [
        "FetchSource", "BuildPrompt", "InvokeModel", "ContinueFix", "Continued", "ValidatePatch",
        "ContinueFix", "Continued", "CommitBranch", "OpenPullRequest", "MarkDone"]
    assert all(s.outcome == "succeeded" and s.duration_ms is not None for s in att.steps)
    work = [s for s in att.steps if s.state not in ("ContinueFix", "Continued")]
    assert "context" in work[0].artifacts and "reply" in work[2].artifacts
    assert Path(work[3].artifacts["validation"]).is_file()
    assert [v.state for v in out.path] == [s.state for s in work]
    # payloads carry references only: no source text in any state input/output
    for ev in history:
        assert "order_items" not in json.dumps(ev, default=str)
    entered = [e.state for e in events if e.event == "entered" and e.state != "Requeue"]
    assert entered == [s.state for s in att.steps if s.state != "Continued"]
    assert record.tokens_in == 100 and record.tokens_out == 20


def test_tasks_repeated_after_success_are_no_ops(tmp_path: Path) -> None:
    """Express runs tasks at least once: a second MarkDone or OpenPullRequest changes nothing.
    Once the attempt is finished (pr_open) a repeat is a late step (issue #11): refused before
    its work runs; OpenPullRequest raises ``AttemptFinished``, MarkDone (the last state) returns
    its input saying why."""
    import importlib

    import pytest

    from selfheal.compose import aws
    from selfheal.errors import AttemptFinished
    from selfheal.services.workflow.catalogue import REFUSED_KEY

    svc = make_services(tmp_path)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        run_execution(svc.store, engine, fp, timeout=60)
    att = svc.store.get(fp).attempts[-1]  # type: ignore[union-attr]
    inputs = {s.state: json.loads(Path(s.artifacts["input"]).read_text()) for s in att.steps
              if "input" in s.artifacts}  # the Continued markers have none
    aws.configure(steps=svc)
    try:
        with pytest.raises(AttemptFinished):
            importlib.import_module("functions.open_pull_request").handler(inputs["OpenPullRequest"], None)
        out = importlib.import_module("functions.mark_done").handler(inputs["MarkDone"], None)
        assert "pr_open" in out[REFUSED_KEY]
    finally:
        aws.configure(steps=None)
    record = svc.store.get(fp)
    assert record is not None and record.status == Status.PR_OPEN
    assert len(svc.code_host.prs) == 1  # type: ignore[attr-defined]
    assert svc.code_host.open_calls == 1  # type: ignore[attr-defined]
