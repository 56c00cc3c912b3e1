"""Composition of the AWS ``WorkflowEngine`` (for callers that start or follow executions of
the deployed state machine; the step Lambdas themselves never need it)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from selfheal.adapters.sfn_aws import AwsWorkflowEngine
from selfheal.errors import ConfigurationError
from selfheal.names import ENV_SFN_ENDPOINT_URL, ENV_STATE_MACHINE_ARN


def build_aws_engine(env: Mapping[str, str] | None = None) -> AwsWorkflowEngine:
    """The deployed workflow (``SELFHEAL_STATE_MACHINE_ARN``); ``SELFHEAL_SFN_ENDPOINT_URL``
    points it at Step Functions Local (``amazon/aws-stepfunctions-local``) instead."""
    env = os.environ if env is None else env
    arn = env.get(ENV_STATE_MACHINE_ARN)
    if not arn:
        raise ConfigurationError(f"{ENV_STATE_MACHINE_ARN} is not set")
    return AwsWorkflowEngine(arn, endpoint_url=env.get(ENV_SFN_ENDPOINT_URL) or None,
                             region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"))
