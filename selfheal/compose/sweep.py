"""The sweep, composed. Locally (``sweep_local``, which the CLI runs at the start of ``fix``,
``watch``, ``redrive`` and ``errors``): attempts left FIXING by a process that died become FAILED
(reason ``lost``, resumable), and the worktrees such processes left in the repository are removed.
On AWS (``sweep_aws``, the scheduled Sweep Lambda): the same over the error table, with the
deployed state machine starting continuations that waited past 15 minutes."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from selfheal.names import ENV_ARTIFACT_BUCKET, ENV_STATE_MACHINE_ARN, ENV_TABLE_NAME, ENV_WORKFLOW_TYPE
from selfheal.settings import Settings

if TYPE_CHECKING:
    from datetime import datetime

    from selfheal.services.workflow.sweeper import SweepReport

STANDARD_LIMIT_S = 3600.0


def sweep_local(settings: Settings) -> str | None:
    """Sweep the local store (see module docstring); a one-line summary when it did something."""
    report = sweep_local_report(settings)
    return None if report is None else report.summary()


def sweep_local_report(settings: Settings) -> SweepReport | None:
    """``sweep_local``'s report (None when there is no store yet)."""
    from selfheal.adapters.artifacts_fs import FsArtifactStore
    from selfheal.adapters.lease_files import owner_alive, remove_dead_leases
    from selfheal.adapters.worktree_sweep import prune_stale_worktrees
    from selfheal.compose.store import LOCAL_DB_NAME, build_local_store
    from selfheal.compose.workflow import ARTIFACTS_DIR
    from selfheal.services.workflow.sweeper import SweepPolicy, sweep

    if not (settings.home / LOCAL_DB_NAME).is_file():
        return None  # nothing recorded yet: no store to sweep (and none is created)
    report = sweep(build_local_store(settings),
                   SweepPolicy(owner_alive=owner_alive(settings.home)),
                   artifacts=FsArtifactStore(settings.home / ARTIFACTS_DIR))
    remove_dead_leases(settings.home)  # their attempts are FAILED (lost) now
    if settings.repo is not None and (settings.repo / ".git").exists():
        report.pruned_worktrees = prune_stale_worktrees(settings.repo)
    return report


def execution_limit(workflow_type: str) -> float:
    """The longest one execution can run: Express's cap, else the definition's own timeout."""
    from selfheal.services.workflow.sweeper import EXPRESS_LIMIT_S

    if workflow_type.upper() != "STANDARD":
        return EXPRESS_LIMIT_S
    from selfheal.adapters.asl_file import default_asl

    try:
        definition = json.loads(default_asl().read_text(encoding="utf-8"))
        return float(definition.get("TimeoutSeconds", STANDARD_LIMIT_S))
    except (OSError, ValueError):
        return STANDARD_LIMIT_S


def sweep_aws(env: Mapping[str, str] | None = None, *, now: datetime | None = None) -> SweepReport:
    """One sweep of the deployed error table (the Sweep Lambda); ``now``: tests' clock."""
    from selfheal.adapters.artifacts_s3 import S3ArtifactStore
    from selfheal.compose.engine import build_aws_engine
    from selfheal.compose.store import build_dynamodb_store
    from selfheal.errors import ConfigurationError
    from selfheal.services.workflow.sweeper import SweepPolicy, sweep

    env = os.environ if env is None else env
    table, bucket = env.get(ENV_TABLE_NAME), env.get(ENV_ARTIFACT_BUCKET)
    if not table or not bucket or not env.get(ENV_STATE_MACHINE_ARN):
        raise ConfigurationError(
            f"{ENV_TABLE_NAME}, {ENV_ARTIFACT_BUCKET} and {ENV_STATE_MACHINE_ARN} must be set")
    policy = SweepPolicy(execution_limit_s=execution_limit(env.get(ENV_WORKFLOW_TYPE, "EXPRESS")))
    return sweep(build_dynamodb_store(table), policy, artifacts=S3ArtifactStore(bucket),
                 starter=build_aws_engine(env), now=now)
