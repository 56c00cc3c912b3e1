"""Sweep Lambda (scheduled every 5 minutes): fixes FIXING past their deadline become FAILED with
reason ``lost`` at the state they were in (``bin/redrive`` resumes there without paying for the
model again), and continuations waiting longer than SQS can delay are started when due.

The sweep is composed by ``selfheal.compose.sweep.sweep_aws`` from the template's environment.
Metrics (EMF): ``FixesPastDeadline`` (the template's alarm and dashboard watch it),
``ContinuationsStarted``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from selfheal.compose import aws
from selfheal.compose.sweep import sweep_aws
from selfheal.services.workflow.sweeper import SweepReport

PAST_DEADLINE_METRIC = "FixesPastDeadline"
CONTINUATIONS_METRIC = "ContinuationsStarted"
logger = Logger()
metrics = aws.metrics()
run: Callable[[], SweepReport] = sweep_aws  # tests put their own sweep in


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = run()
    metrics.add_metric(name=PAST_DEADLINE_METRIC, unit=MetricUnit.Count, value=report.past_deadline)
    metrics.add_metric(name=CONTINUATIONS_METRIC, unit=MetricUnit.Count, value=len(report.started))
    for fingerprint, attempt, state in report.lost:
        logger.warning("fix lost past its deadline: FAILED, resumable", fingerprint=fingerprint,
                       attempt=attempt, state=state)
    return {"checked": report.checked, "lost": len(report.lost), "started": len(report.started)}
