"""``selfheal fix|redrive --engine sfn``: the same runs against a Step Functions endpoint instead of
the in-process engine — Step Functions Local (``amazon/aws-stepfunctions-local``) or any API-
compatible server — through the AWS engine adapter pointed at ``SELFHEAL_SFN_ENDPOINT_URL``.

The state machine there (``SELFHEAL_STATE_MACHINE_ARN``) calls the step Lambdas it is configured
for (Step Functions Local: ``LAMBDA_ENDPOINT``, e.g. ``sam local start-lambda``); they record the
fix in the store they are configured for, so this side reads the same one: the DynamoDB table
``SELFHEAL_TABLE_NAME`` (and bucket ``SELFHEAL_ARTIFACT_BUCKET``) when set, else the local store.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from selfheal.errors import ConfigurationError, ErrorNotFound
from selfheal.names import ENV_ARTIFACT_BUCKET, ENV_SFN_ENDPOINT_URL, ENV_STATE_MACHINE_ARN, ENV_TABLE_NAME
from selfheal.settings import Settings

if TYPE_CHECKING:
    from selfheal.adapters.sfn_aws import AwsWorkflowEngine
    from selfheal.ports import ArtifactStore, ErrorStore
    from selfheal.services.workflow.runner import FixOutcome, Progress

ENGINES = ("local", "sfn")
ENDPOINT_ENV = ENV_SFN_ENDPOINT_URL
ENDPOINT_POLL_S = 0.1


def endpoint_engine(env: Mapping[str, str] | None = None) -> AwsWorkflowEngine:
    """The AWS engine adapter on ``SELFHEAL_SFN_ENDPOINT_URL`` (required here)."""
    from selfheal.compose.engine import build_aws_engine

    env = os.environ if env is None else env
    if not env.get(ENDPOINT_ENV):
        raise ConfigurationError(f"--engine sfn needs {ENDPOINT_ENV} (e.g. http://127.0.0.1:8083 for "
                                 f"Step Functions Local) and {ENV_STATE_MACHINE_ARN}")
    engine = build_aws_engine(env)
    engine.poll_interval = ENDPOINT_POLL_S  # a local endpoint: follow it closely
    return engine


def endpoint_store(settings: Settings, env: Mapping[str, str]) -> tuple[ErrorStore, ArtifactStore]:
    """The store and artifacts the endpoint's step functions write (see module docstring)."""
    table, bucket = env.get(ENV_TABLE_NAME), env.get(ENV_ARTIFACT_BUCKET)
    if table:
        from selfheal.adapters.artifacts_s3 import S3ArtifactStore
        from selfheal.compose.store import build_dynamodb_store

        if not bucket:
            raise ConfigurationError(f"{ENV_TABLE_NAME} needs {ENV_ARTIFACT_BUCKET} too")
        return build_dynamodb_store(table), S3ArtifactStore(bucket)
    from selfheal.adapters.artifacts_fs import FsArtifactStore
    from selfheal.compose.store import build_local_store
    from selfheal.compose.workflow import ARTIFACTS_DIR

    return build_local_store(settings), FsArtifactStore(settings.home / ARTIFACTS_DIR)


def run_on_endpoint(settings: Settings, fingerprint: str, *, from_state: str | None = None,
                    redrive: bool = False, env: Mapping[str, str] | None = None,
                    stores: tuple[ErrorStore, ArtifactStore] | None = None,
                    progress: Progress | None = None, timeout: float = 3600.0,
                    force: bool = False) -> FixOutcome:
    """A fix (or, with ``redrive``, a re-drive from ``from_state``) on the endpoint's workflow,
    followed to its end across its continuations."""
    from selfheal.services.workflow.runner import redrive_payload, run_execution

    env = os.environ if env is None else env
    engine = endpoint_engine(env)
    store, artifacts = stores or endpoint_store(settings, env)
    payload: dict[str, Any] | None = None
    if redrive:
        record = store.get(fingerprint)
        if record is None:
            raise ErrorNotFound(f"no error with fingerprint {fingerprint}")
        payload = redrive_payload(record, artifacts, from_state)
    return run_execution(store, engine, fingerprint, payload=payload, progress=progress,
                         timeout=timeout, force=force, artifacts=artifacts, sleep=None)
