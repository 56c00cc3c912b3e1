"""Lambda handler of the ``InvokeModel`` state: validate the input model, run the step, return the
output model (the business logic is ``selfheal.services.workflow.steps.invoke_model``).

It also emits the EMF metric ``FixCostUSD`` (namespace from ``POWERTOOLS_METRICS_NAMESPACE``,
dimension ``service``) per model call, which the template's fix-cost alarm watches.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions import _runtime
from selfheal.services.workflow.models import InvokeModelInput, parse_input
from selfheal.services.workflow.registry import STEP_FUNCTIONS

STATE = "InvokeModel"
# An explicit default: outside Lambda (the local engine, tests) the variable may be unset, and
# Powertools refuses to flush metrics without a namespace.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Selfheal"), service="selfheal")


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    payload = parse_input(STATE, event)
    assert isinstance(payload, InvokeModelInput)
    services = _runtime.services()
    result = STEP_FUNCTIONS[STATE](services, payload)  # a rate limit comes back as a wait
    if result.flow.wait_state is not None:
        return result.to_payload()
    reply = json.loads(services.artifacts.get_bytes(result.artifacts["reply"]))
    metrics.add_metric(name="FixCostUSD", unit=MetricUnit.Count, value=float(reply.get("cost_usd") or 0.0))
    metrics.add_metric(name="ModelTokens", unit=MetricUnit.Count,
                       value=int(reply.get("tokens_in") or 0) + int(reply.get("tokens_out") or 0))
    return result.to_payload()
