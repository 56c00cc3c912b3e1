"""The InvokeModel Lambda emits the FixCostUSD / ModelTokens EMF metrics the cost alarm watches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfheal.services.workflow.runner import run_execution
from tests.support.workflow_fakes import local_engine, make_services, seed_error


def test_invoke_model_emits_cost_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Selfheal")
    svc = make_services(tmp_path, model_prices=["scripted=3/15"])
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        run_execution(svc.store, engine, fp, timeout=60)
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()
            if line.startswith("{") and "_aws" in line]
    emf = [d for d in docs if "FixCostUSD" in d]
    assert len(emf) == 1
    doc = emf[0]
    assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Selfheal"
    assert doc["service"] == "selfheal"
    # EMF allows a value or an array of values; Powertools writes arrays.
    values = {k: v if isinstance(v, list) else [v]
              for k, v in doc.items() if k in ("FixCostUSD", "ModelTokens")}
    assert values["ModelTokens"] == [120]  # the scripted reply's 100 in + 20 out
    record = svc.store.get(fp)
    assert record is not None and record.cost_usd > 0
    assert values["FixCostUSD"] == [pytest.approx(record.cost_usd)]
