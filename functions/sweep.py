"""Sweep Lambda (scheduled every 5 minutes): fixes FIXING past their deadline become FAILED with
reason ``lost`` at the state they were in (``bin/redrive`` resumes there without paying for the
model again), and continuations waiting longer than SQS can delay are started when due.

Environment: ``TABLE_NAME``, ``SELFHEAL_ARTIFACT_BUCKET``, ``SELFHEAL_STATE_MACHINE_ARN``,
``SELFHEAL_WORKFLOW_TYPE`` (EXPRESS: an execution ends within 300 s; STANDARD: the definition's
``TimeoutSeconds``). Metrics (EMF): ``FixesPastDeadline`` (the alarm watches it),
``ContinuationsStarted``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from selfheal.services.workflow.sweeper import EXPRESS_LIMIT_S, SweepPolicy, SweepReport, sweep

logger = Logger(service="selfheal-sweep")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Selfheal"), service="selfheal")
STANDARD_LIMIT_S = 3600.0
PAST_DEADLINE_METRIC = "FixesPastDeadline"  # template.yaml's alarm and dashboard watch it
CONTINUATIONS_METRIC = "ContinuationsStarted"


def execution_limit(workflow_type: str) -> float:
    """The longest one execution can run: Express's cap, else the definition's own timeout."""
    if workflow_type.upper() != "STANDARD":
        return EXPRESS_LIMIT_S
    from selfheal.adapters.asl_file import default_asl

    try:
        return float(json.loads(default_asl().read_text(encoding="utf-8")).get("TimeoutSeconds",
                                                                               STANDARD_LIMIT_S))
    except (OSError, ValueError):
        return STANDARD_LIMIT_S


def run(env: dict[str, str] | None = None, *, store: Any = None, artifacts: Any = None,
        starter: Any = None) -> SweepReport:
    """One sweep with the services named by ``env`` (tests pass their own)."""
    env = dict(os.environ) if env is None else env
    if store is None:
        from selfheal.compose.store import build_dynamodb_store

        store = build_dynamodb_store(env["TABLE_NAME"])
    if artifacts is None and env.get("SELFHEAL_ARTIFACT_BUCKET"):
        from selfheal.adapters.artifacts_s3 import S3ArtifactStore

        artifacts = S3ArtifactStore(env["SELFHEAL_ARTIFACT_BUCKET"])
    if starter is None and env.get("SELFHEAL_STATE_MACHINE_ARN"):
        from selfheal.adapters.sfn_aws import AwsWorkflowEngine

        starter = AwsWorkflowEngine(env["SELFHEAL_STATE_MACHINE_ARN"])
    policy = SweepPolicy(execution_limit_s=execution_limit(env.get("SELFHEAL_WORKFLOW_TYPE", "EXPRESS")))
    return sweep(store, policy, artifacts=artifacts, starter=starter)


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = run()
    metrics.add_metric(name=PAST_DEADLINE_METRIC, unit=MetricUnit.Count, value=report.past_deadline)
    metrics.add_metric(name=CONTINUATIONS_METRIC, unit=MetricUnit.Count, value=len(report.started))
    for fingerprint, attempt, state in report.lost:
        logger.warning("fix lost past its deadline: FAILED, resumable", fingerprint=fingerprint,
                       attempt=attempt, state=state)
    return {"checked": report.checked, "lost": len(report.lost), "started": len(report.started)}
