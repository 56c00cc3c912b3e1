"""Lambda handler of the ``InvokeModel`` state: validate the input model, run the step, return the
output payload (the business logic is ``selfheal.services.workflow.steps.invoke_model``).

It also emits the EMF metric ``FixCostUSD`` (namespace and ``service`` dimension from the
environment the template sets, ``selfheal.names``) per model call, which the template's fix-cost
alarm watches.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from selfheal.compose import aws
from selfheal.names import Artifact

STATE = aws.state_for_module(__name__).name
run_step = aws.state_handler(STATE)
metrics = aws.metrics()


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = run_step(event, context)
    if (result.get("flow") or {}).get("wait_state"):  # a rate limit comes back as a wait
        return result
    artifacts = aws.step_services(STATE).artifacts
    reply = json.loads(artifacts.get_bytes(result["artifacts"][Artifact.REPLY]))
    metrics.add_metric(name="FixCostUSD", unit=MetricUnit.Count, value=float(reply.get("cost_usd") or 0.0))
    metrics.add_metric(name="ModelTokens", unit=MetricUnit.Count,
                       value=int(reply.get("tokens_in") or 0) + int(reply.get("tokens_out") or 0))
    return result
