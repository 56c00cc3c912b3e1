"""``WorkflowEngine`` on AWS Step Functions (boto3), or on Step Functions Local.

``endpoint_url`` points the client elsewhere: with Docker, ``docker run -p 8083:8083
amazon/aws-stepfunctions-local`` and ``endpoint_url="http://127.0.0.1:8083"`` runs the same ASL
there (not used in CI: CI machines have no Docker engine). Express executions cannot be
described after the fact; the error record's attempts are their durable history.
"""

from __future__ import annotations

from typing import Any

from selfheal.adapters.sfn_common import StepFunctionsExecutions
from selfheal.errors import InvalidTransition


class AwsWorkflowEngine(StepFunctionsExecutions):
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

    def state_machine(self) -> str:
        return self.state_machine_arn

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
