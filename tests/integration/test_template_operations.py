"""The operator's side of the template: the dashboard (errors ingested, fixes by outcome, cost,
DLQ depth, executions, fixes past their deadline) references real resources and the metrics the
code emits; the sweeper runs on a schedule and its past-deadline metric raises an alarm; the
sweep handler emits that metric."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from typing import Any

import pytest

from functions import sweep as sweep_function
from selfheal.domain.records import Status
from tests.support.deploy_sam import load_template
from tests.support.workflow_fakes import MemoryErrorStore, seed_error


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template()


def _body(sam: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    text = sam["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    names = set(re.findall(r"\$\{([A-Za-z0-9:.]+)\}", text))
    filled = re.sub(r"\$\{([A-Za-z0-9:.]+)\}", lambda m: f"X-{m.group(1)}", text)
    return json.loads(filled), names


def test_dashboard_shows_the_operators_picture(sam: dict[str, Any]) -> None:
    body, names = _body(sam)
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == ["Errors ingested", "Fixes by outcome", "Model spend (USD)", "Dead-letter queue depth",
                      "Fix executions", "Fixes past their deadline (swept to FAILED, lost)"]
    for name in names:  # every reference is a resource (or its attribute) or a pseudo parameter
        assert name.startswith("AWS::") or name.split(".")[0] in sam["Resources"], name
    metrics = json.dumps(body)
    assert '"selfheal", "TracebacksSeen", "service", "ingest"' in metrics
    assert f'"Selfheal", "{sweep_function.PAST_DEADLINE_METRIC}"' in metrics
    assert '"FixCostUSD", "service", "selfheal"' in metrics
    from selfheal.compose.aws import STEPS_REFUSED_METRIC

    assert f'"{STEPS_REFUSED_METRIC}", ".", "."' in metrics  # late steps of finished attempts (#11)


def test_the_sweeper_is_scheduled_and_past_deadline_raises_an_alarm(sam: dict[str, Any]) -> None:
    props = sam["Resources"]["SweepFunction"]["Properties"]
    assert props["Handler"] == "functions.sweep.handler"
    assert [e["Properties"]["Schedule"] for e in props["Events"].values()] == ["rate(5 minutes)"]
    alarm = sam["Resources"]["FixesPastDeadlineAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("Selfheal", sweep_function.PAST_DEADLINE_METRIC)
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_the_sweep_handler_emits_the_past_deadline_metric(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from selfheal.domain.records import utcnow

    store = MemoryErrorStore()
    fp = seed_error(store)
    store.transition(fp, Status.FIXING)
    store.start_attempt(fp, None)
    att = store.get(fp).attempts[-1]  # type: ignore[union-attr]
    store.finish_attempt(fp, att.number, started_at=utcnow() - timedelta(minutes=10))
    from selfheal.services.workflow.sweeper import sweep

    monkeypatch.setattr(sweep_function, "run", lambda: sweep(store))
    out = io.StringIO()
    with redirect_stdout(out):
        result = sweep_function.handler({}, None)
    assert result == {"checked": 1, "lost": 1, "started": 0}
    emf = [json.loads(line) for line in out.getvalue().splitlines() if '"_aws"' in line]
    assert emf and emf[-1][sweep_function.PAST_DEADLINE_METRIC] == [1.0]
    assert store.get(fp).status == Status.FAILED  # type: ignore[union-attr]
