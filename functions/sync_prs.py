"""Scheduled Lambda: sync fix PRs with the error table (``selfheal.services.pr_sync``).

Every error in PR_OPEN whose PR was merged becomes RESOLVED (so its next occurrence is REGRESSED
and, through the table's stream, queued again with the merged PR as ``previous_pr_url``); one
whose PR was closed unmerged becomes FAILED. Run it on a schedule (e.g. every 15 minutes).

Environment: ``SELFHEAL_TABLE_NAME``; the code host as for the step functions
(``SELFHEAL_PARAMETER_PREFIX`` holding what ``bin/configure`` stored, or ``SELFHEAL_REPO_URL``;
the GitHub token from SSM), built by ``selfheal.compose.aws.build_pr_sync``. Metrics (EMF,
namespace and service from the template's environment): FixPrsChecked, FixPrsMerged,
FixPrsClosed, FixPrSyncProblems. Returns the sync report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from selfheal.compose import aws
from selfheal.services.pr_sync import sync_pull_requests

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = aws.logger()
metrics = aws.metrics()


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = aws.pr_sync_deps()
    report = sync_pull_requests(deps.store, deps.host)
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
