"""The AWS Step Functions adapter against moto's Step Functions API (the same ASL file)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from moto import mock_aws

from selfheal.adapters.sfn_aws import AwsWorkflowEngine
from selfheal.adapters.sfn_local import DEFAULT_ASL, function_arn, substitute
from selfheal.services.workflow.catalogue import STATES
from selfheal.services.workflow.flow import QUEUE_SUB


def filled_substitutions() -> dict[str, str]:
    return {**{s.substitution: function_arn("us-east-1", s.name) for s in STATES}, **QUEUE_SUB}


@mock_aws
def test_start_is_idempotent_by_name_and_history_is_readable() -> None:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    definition = substitute(DEFAULT_ASL.read_text(),
                            filled_substitutions())
    arn = client.create_state_machine(name="selfheal-fix", definition=definition, type="STANDARD",
                                      roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
    engine = AwsWorkflowEngine(arn, client=client, poll_interval=0.01)
    first = engine.start("abcdef012345-1", {"fingerprint": "abcdef0123456789", "attempt": 1})
    again = engine.start("abcdef012345-1", {"fingerprint": "abcdef0123456789", "attempt": 1})
    assert first == again == engine.execution_arn("abcdef012345-1")
    info = engine.wait(first, timeout=0.2)  # moto without execution stays RUNNING
    assert info.name == "abcdef012345-1" and info.status in ("RUNNING", "SUCCEEDED")
    assert isinstance(engine.history(first), list)


def test_composed_from_env_with_an_endpoint_for_step_functions_local() -> None:
    import pytest

    from selfheal.compose.engine import build_aws_engine
    from selfheal.errors import ConfigurationError

    engine = build_aws_engine({"SELFHEAL_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:1:stateMachine:f",
                               "SELFHEAL_SFN_ENDPOINT_URL": "http://127.0.0.1:8083",
                               "AWS_REGION": "eu-west-1"})
    assert engine.client.meta.endpoint_url == "http://127.0.0.1:8083"
    assert engine.client.meta.region_name == "eu-west-1"
    with pytest.raises(ConfigurationError):
        build_aws_engine({})


def test_native_redrive_for_standard_workflows() -> None:
    """moto has no RedriveExecution: the botocore Stubber checks the request shape."""
    import pytest
    from botocore.stub import Stubber

    from selfheal.errors import InvalidTransition

    client = boto3.client("stepfunctions", region_name="us-east-1")
    arn = "arn:aws:states:us-east-1:123456789012:execution:selfheal-fix:abcdef012345-1"
    engine = AwsWorkflowEngine("arn:aws:states:us-east-1:123456789012:stateMachine:selfheal-fix",
                               client=client)
    with Stubber(client) as stub:
        stub.add_response("redrive_execution", {"redriveDate": datetime.now(UTC)},
                          {"executionArn": arn, "clientToken": "tok"})
        stub.add_client_error("redrive_execution", "ExecutionNotRedrivable", "EXPRESS executions cannot")
        engine.redrive(arn, client_token="tok")
        with pytest.raises(InvalidTransition, match="cannot be re-driven"):
            engine.redrive(arn)
        stub.assert_no_pending_responses()
