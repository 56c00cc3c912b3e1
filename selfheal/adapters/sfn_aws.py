"""``WorkflowEngine`` on AWS Step Functions (boto3), or on Step Functions Local.

``endpoint_url`` points the client elsewhere: with Docker, ``docker run -p 8083:8083
amazon/aws-stepfunctions-local`` and ``endpoint_url="http://127.0.0.1:8083"`` runs the same ASL
there (not used in CI: CI machines have no Docker engine). Express executions cannot be
described after the fact; the error record's attempts are their durable history.
"""

from __future__ import annotations

import json
import time
from typing import Any

from selfheal.adapters.sfn_local import describe_with, history_with
from selfheal.errors import InvalidTransition, MalformedInput, StepTimeout
from selfheal.ports import ExecutionInfo


class AwsWorkflowEngine:
    """Start and follow executions of the deployed ``state_machine_arn``."""

    def __init__(self, state_machine_arn: str, *, client: Any = None, endpoint_url: str | None = None,
                 region: str | None = None, poll_interval: float = 1.0) -> None:
        self.state_machine_arn = state_machine_arn
        self._client = client
        self.endpoint_url = endpoint_url
        self.region = region
        self.poll_interval = poll_interval

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("stepfunctions", endpoint_url=self.endpoint_url,
                                        region_name=self.region)
        return self._client

    def execution_arn(self, name: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"

    def start(self, name: str, payload: dict[str, Any]) -> str:
        client = self.client
        try:
            return str(client.start_execution(stateMachineArn=self.state_machine_arn, name=name,
                                              input=json.dumps(payload))["executionArn"])
        except client.exceptions.ExecutionAlreadyExists:
            return self.execution_arn(name)  # a duplicate start is a no-op
        except client.exceptions.InvalidName as exc:
            raise MalformedInput(f"invalid execution name {name!r}: {exc}") from exc
        except client.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("ThrottlingException", "ServiceUnavailable", "InternalServerError"):
                raise StepTimeout(f"Step Functions is busy: {code}") from exc
            raise

    def redrive(self, execution_id: str, client_token: str | None = None) -> None:
        """Native ``RedriveExecution`` (STANDARD workflows only: it restarts a failed execution
        from its failed state). Express workflows re-drive through the queue instead
        (``selfheal.services.workflow.runner.request_redrive``)."""
        kwargs: dict[str, Any] = {"executionArn": execution_id}
        if client_token:
            kwargs["clientToken"] = client_token
        try:
            self.client.redrive_execution(**kwargs)
        except self.client.exceptions.ExecutionNotRedrivable as exc:
            raise InvalidTransition(f"execution {execution_id} cannot be re-driven: {exc}") from exc

    def describe(self, execution_id: str) -> ExecutionInfo:
        return describe_with(self.client, execution_id)

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        return history_with(self.client, execution_id)

    def wait(self, execution_id: str, timeout: float) -> ExecutionInfo:
        deadline = time.monotonic() + timeout
        while True:
            info = self.describe(execution_id)
            if info.status != "RUNNING" or time.monotonic() >= deadline:
                return info
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))
