"""What both Step Functions engines share (``sfn_local``: moto's interpreter in-process;
``sfn_aws``: AWS or Step Functions Local): starting an execution by name idempotently, reading
executions back (``DescribeExecution``, ``GetExecutionHistory``) and polling with a deadline."""

from __future__ import annotations

import json
import time
from typing import Any

from selfheal.errors import MalformedInput, StepTimeout
from selfheal.ports import ExecutionInfo

_BUSY = ("ThrottlingException", "ServiceUnavailable", "InternalServerError")


class StepFunctionsExecutions:
    """``start`` / ``execution_arn`` / ``describe`` / ``history`` / ``wait`` of a ``WorkflowEngine``
    over a boto3 Step Functions client. Subclasses provide ``client``, ``state_machine()`` and
    ``poll_interval``."""

    poll_interval: float

    @property
    def client(self) -> Any:
        raise NotImplementedError

    def state_machine(self) -> str:
        """The ARN of the state machine executions start from."""
        raise NotImplementedError

    def execution_arn(self, name: str) -> str:
        return self.state_machine().replace(":stateMachine:", ":execution:") + f":{name}"

    def start(self, name: str, payload: dict[str, Any]) -> str:
        client = self.client
        try:
            return str(client.start_execution(stateMachineArn=self.state_machine(), name=name,
                                              input=json.dumps(payload))["executionArn"])
        except client.exceptions.ExecutionAlreadyExists:
            return self.execution_arn(name)  # a duplicate start is a no-op
        except client.exceptions.InvalidName as exc:
            raise MalformedInput(f"invalid execution name {name!r}: {exc}") from exc
        except client.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _BUSY:
                raise StepTimeout(f"Step Functions is busy: {code}") from exc
            raise

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


def describe_with(client: Any, execution_id: str) -> ExecutionInfo:
    """``DescribeExecution`` as an ``ExecutionInfo``."""
    d = client.describe_execution(executionArn=execution_id)
    output = d.get("output")
    return ExecutionInfo(execution_id=d["executionArn"], name=d.get("name", ""), status=d["status"],
                         started_at=d.get("startDate"), stopped_at=d.get("stopDate"),
                         output=json.loads(output) if output else None,
                         error=d.get("error"), cause=d.get("cause"))


def history_with(client: Any, execution_id: str) -> list[dict[str, Any]]:
    """Every ``GetExecutionHistory`` event, following ``nextToken``."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_id, "maxResults": 1000}
    while True:
        page = client.get_execution_history(**kwargs)
        events.extend(page.get("events", []))
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]
