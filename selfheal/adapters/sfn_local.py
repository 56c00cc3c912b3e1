"""``WorkflowEngine`` in-process: moto's Step Functions interpreter runs the real ASL file and
its Lambda tasks call our handler functions (through ``selfheal.adapters.moto_lambda_hook``).

Executions run asynchronously in moto's threads; ``wait`` polls ``describe_execution`` with a
deadline. ``${...}`` substitutions are filled with local Lambda ARNs of the registered handlers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from selfheal.adapters import asl_file, moto_lambda_hook
from selfheal.adapters.moto_lambda_hook import Handler
from selfheal.adapters.sfn_common import StepFunctionsExecutions
from selfheal.errors import ConfigurationError
from selfheal.names import QUEUE_URL_SUBSTITUTION, function_arn_substitution

ACCOUNT = "123456789012"
FUNCTION_PREFIX = "selfheal-"
LOCAL_QUEUE = "selfheal-local-fixes"
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
# The checkout's statemachine/ file, else the copy a wheel installs (see ``asl_file``).
DEFAULT_ASL = asl_file.default_asl()


def substitute(definition: str, values: Mapping[str, str]) -> str:
    """Fill every ``${Name}`` placeholder; raise ``ConfigurationError`` naming the missing ones."""
    missing = sorted({m for m in _PLACEHOLDER.findall(definition) if m not in values})
    if missing:
        raise ConfigurationError(f"no value for ASL substitution(s): {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], definition)


def function_arn(region: str, state: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{FUNCTION_PREFIX}{state}"


class LocalWorkflowEngine(StepFunctionsExecutions):
    """Runs ``definition`` in moto with ``handlers`` (Task state name -> handler(event, ctx))."""

    def __init__(self, handlers: Mapping[str, Handler], definition: Path = DEFAULT_ASL, *,
                 retry_scale: float = 1.0, region: str = "us-east-1",
                 machine_name: str = "selfheal-fix-error", workflow_type: str = "EXPRESS",
                 poll_interval: float = 0.02) -> None:
        self._handlers = dict(handlers)
        self._definition_path = Path(definition)
        self.retry_scale = retry_scale
        self.region = region
        self.machine_name = machine_name
        self.workflow_type = workflow_type
        self.poll_interval = poll_interval
        self._mock: Any = None
        self._client: Any = None
        self._machine_arn: str | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def open(self) -> LocalWorkflowEngine:
        """Start moto, install the hook, create the state machine (idempotent)."""
        if self._mock is not None:
            return self
        from moto import mock_aws

        # The interpreter logs every caught task error and every IsPresent probe at ERROR;
        # without a handler Python prints them to stderr. The history has them; stay quiet
        # unless the application configured logging.
        logging.getLogger("moto.stepfunctions.parser").addHandler(logging.NullHandler())
        moto_lambda_hook.install({FUNCTION_PREFIX + s: h for s, h in self._handlers.items()},
                                 retry_scale=self.retry_scale)
        self._mock = mock_aws(config={
            "stepfunctions": {"execute_state_machine": True},
            "lambda": {"use_docker": False},
            # Keep the user's credentials (a Bedrock model in a handler needs them) and let
            # Bedrock calls from handlers through to the real (or local) endpoint.
            "core": {"mock_credentials": False, "passthrough": {"services": ["bedrockruntime"]}},
        })
        self._mock.start()
        import boto3

        self._client = boto3.client("stepfunctions", region_name=self.region,
                                    aws_access_key_id="local", aws_secret_access_key="local")
        values = {function_arn_substitution(s): function_arn(self.region, s) for s in self._handlers}
        # The ASL's Requeue task sends continuations to the fix queue; locally the runner starts
        # them from the attempt's Continued step, so this in-memory queue only receives them.
        values[QUEUE_URL_SUBSTITUTION] = boto3.client(
            "sqs", region_name=self.region, aws_access_key_id="local",
            aws_secret_access_key="local").create_queue(QueueName=LOCAL_QUEUE)["QueueUrl"]
        definition = substitute(asl_file.read_definition(self._definition_path), values)
        self._machine_arn = self._client.create_state_machine(
            name=self.machine_name, definition=definition, type=self.workflow_type,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/selfheal-local")["stateMachineArn"]
        return self

    def close(self) -> None:
        """Stop moto (its in-memory executions are gone; the error store keeps the history)."""
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
            self._client = None

    def __enter__(self) -> LocalWorkflowEngine:
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def client(self) -> Any:
        self.open()
        return self._client

    # --- WorkflowEngine (start/describe/history/wait: sfn_common) -------------------------------

    def state_machine(self) -> str:
        self.open()
        assert self._machine_arn is not None
        return self._machine_arn
