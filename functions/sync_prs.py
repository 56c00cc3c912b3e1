"""Scheduled Lambda: sync fix PRs with the error table (``selfheal.services.pr_sync``).

Every error in PR_OPEN whose PR was merged becomes RESOLVED (so its next occurrence is REGRESSED
and, through the table's stream, queued again with the merged PR as ``previous_pr_url``); one
whose PR was closed unmerged becomes FAILED. Run it on a schedule (e.g. every 15 minutes).

Environment: ``SELFHEAL_TABLE_NAME``; the code host as for the step functions
(``SELFHEAL_PARAMETER_PREFIX`` holding what ``bin/configure`` stored, or ``SELFHEAL_REPO_URL``;
the GitHub token from SSM). Metrics (EMF, namespace ``selfheal``): FixPrsChecked, FixPrsMerged,
FixPrsClosed, FixPrSyncProblems. Returns the sync report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from selfheal.errors import ConfigurationError
from selfheal.services.pr_sync import sync_pull_requests

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from selfheal.ports import CodeHost, ErrorStore

logger = Logger(service="selfheal-sync-prs")
metrics = Metrics(namespace="selfheal", service="sync_prs")
_deps: dict[str, Any] = {}


def configure(*, store: ErrorStore | None = None, host: CodeHost | None = None) -> None:
    """Inject the store and code host (tests); unset ones are built from the environment."""
    _deps.clear()
    _deps.update({k: v for k, v in {"store": store, "host": host}.items() if v is not None})


def build_from_env(env: Mapping[str, str] | None = None) -> tuple[ErrorStore, CodeHost]:
    """The DynamoDB store and the code host the environment names (no model, no artifacts)."""
    from selfheal.compose.source import build_aws_source
    from selfheal.compose.store import build_dynamodb_store
    from selfheal.compose.workflow import aws_explicit_settings
    from selfheal.settings import load_settings

    env = os.environ if env is None else env
    table = env.get("SELFHEAL_TABLE_NAME")
    if not table:
        raise ConfigurationError("SELFHEAL_TABLE_NAME must be set")
    settings = load_settings(aws_explicit_settings(env), env=env)
    _, host = build_aws_source(settings, env)
    return build_dynamodb_store(table), host


def _services() -> tuple[ErrorStore, CodeHost]:
    if "store" not in _deps or "host" not in _deps:
        store, host = build_from_env()
        _deps.setdefault("store", store)
        _deps.setdefault("host", host)
    return _deps["store"], _deps["host"]


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    store, host = _services()
    report = sync_pull_requests(store, host)
    for name, value in (("FixPrsChecked", report.checked), ("FixPrsMerged", len(report.resolved)),
                        ("FixPrsClosed", len(report.failed)), ("FixPrSyncProblems", len(report.problems))):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for change in report.changes:
        if change.status != "PR_OPEN" or change.pr_state == "error":
            logger.info("fix PR synced", fingerprint=change.fingerprint, pr_url=change.pr_url,
                        pr_state=change.pr_state, status=str(change.status), note=change.note)
    for problem in report.problems:
        logger.warning(problem)
    return report.as_dict()
