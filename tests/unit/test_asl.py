"""The fix workflow's ASL: parsed by moto, names matching the handlers, Retry and Catch on every
Task, JSONPath only, and (when installed) accepted by npm asl-validator."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from selfheal.adapters.sfn_local import DEFAULT_ASL, function_arn, substitute
from selfheal.errors import MODEL_RETRYABLE_ERROR_NAMES, RETRYABLE_ERROR_NAMES, RetryableError
from selfheal.services.workflow.catalogue import RESUMABLE_STATES, STATE_NAMES, STATES
from selfheal.services.workflow.flow import QUEUE_SUB
from selfheal.services.workflow.models import FixState

LAMBDA_TRANSIENT = {"Lambda.ServiceException", "Lambda.TooManyRequestsException",
                    "Lambda.SdkClientException", "States.Timeout"}


def filled_substitutions() -> dict[str, str]:
    return {**{s.substitution: function_arn("us-east-1", s.name) for s in STATES}, **QUEUE_SUB}


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return json.loads(DEFAULT_ASL.read_text(encoding="utf-8"))


def tasks(asl: dict[str, Any], *, service: bool = False) -> dict[str, dict[str, Any]]:
    """Our Lambda Task states (``service``: the AWS service integrations as well)."""
    return {n: s for n, s in asl["States"].items() if s["Type"] == "Task"
            and (service or not s["Resource"].startswith("arn:aws:states:::"))}


def test_moto_accepts_the_definition_with_substitutions_filled(asl: dict[str, Any]) -> None:
    text = substitute(DEFAULT_ASL.read_text(encoding="utf-8"),
                      filled_substitutions())
    assert "${" not in text
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name="us-east-1")
        arn = client.create_state_machine(name="fix", definition=text, type="EXPRESS",
                                          roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
        stored = client.describe_state_machine(stateMachineArn=arn)["definition"]
        assert json.loads(stored)["StartAt"] == "Start"


def test_moto_rejects_a_broken_definition() -> None:
    """The check above can fail: moto's parser refuses what AWS would refuse."""
    task = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:x",
            "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}], "End": True}
    bad = {"StartAt": "A", "States": {"A": task}}
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name="us-east-1")
        with pytest.raises(client.exceptions.ClientError):
            client.create_state_machine(name="bad", definition=json.dumps(bad),
                                        roleArn="arn:aws:iam::123456789012:role/r")


def test_the_asl_task_states_are_the_catalogue(asl: dict[str, Any]) -> None:
    """The ASL is held against the one definition: every Task is a catalogue state (and back),
    its Resource is the state's substitution, and ``functions/<state>.py`` serves it."""
    assert set(tasks(asl)) == set(STATE_NAMES)
    assert len(STATE_NAMES) == len(set(STATE_NAMES))
    handlers = sorted(p.stem for p in (Path(__file__).parents[2] / "functions").glob("*.py"))
    for state in STATES:
        module = importlib.import_module(state.handler_module)
        assert callable(module.handler)
        assert tasks(asl)[state.name]["Resource"] == "${" + state.substitution + "}"
        assert state.handler_module.rsplit(".", 1)[1] in handlers
        assert issubclass(state.input_model, FixState) and callable(state.step)


def test_a_handler_module_serves_only_its_own_state() -> None:
    from selfheal.compose.aws import state_for_module
    from selfheal.errors import ConfigurationError

    assert state_for_module("functions.validate_patch").name == "ValidatePatch"
    with pytest.raises(ConfigurationError):
        state_for_module("functions.ingest")


def test_every_task_retries_transient_errors_with_backoff_and_full_jitter(asl: dict[str, Any]) -> None:
    for name, state in tasks(asl, service=True).items():
        covered = {e for r in state["Retry"] for e in r["ErrorEquals"]}
        own = {"StoreUnavailable"} if name == "RecordFailure" else set(RETRYABLE_ERROR_NAMES)
        must = LAMBDA_TRANSIENT | own
        assert must <= covered, name
        for retrier in state["Retry"]:
            assert retrier["BackoffRate"] > 1 and retrier["JitterStrategy"] == "FULL", name
            assert "States.ALL" not in retrier["ErrorEquals"], name
        assert state["TimeoutSeconds"] > 0


def test_model_only_conditions_are_retried_by_invoke_model_and_every_retryable_class_somewhere(
        asl: dict[str, Any]) -> None:
    import selfheal.errors as errors

    def covered(name: str) -> set[str]:
        return {e for r in tasks(asl)[name]["Retry"] for e in r["ErrorEquals"]}

    assert set(MODEL_RETRYABLE_ERROR_NAMES) <= covered("InvokeModel")
    everywhere = set().union(*(covered(name) for name in tasks(asl)))
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, RetryableError)]
    # FixDeferred is handled by SQS redelivery before an execution starts, not by the ASL.
    leaves = {c.__name__ for c in classes if not c.__subclasses__() and c.__name__ != "FixDeferred"}
    assert leaves <= everywhere, leaves - everywhere


def test_every_task_but_record_failure_catches_everything_into_record_failure(asl: dict[str, Any]) -> None:
    for name, state in tasks(asl, service=True).items():
        if name == "RecordFailure":
            assert "Catch" not in state and asl["States"][state["Next"]]["Type"] == "Fail"
            continue
        assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure",
                                   "Next": "RecordFailure"}], name


def test_transitions_resolve_and_every_state_is_reachable(asl: dict[str, Any]) -> None:
    states = asl["States"]
    seen, todo = set(), [asl["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        st = states[name]
        nxt = [st.get("Next"), st.get("Default"), *[c["Next"] for c in st.get("Choices", [])],
               *[c["Next"] for c in st.get("Catch", [])]]
        for target in filter(None, nxt):
            assert target in states, f"{name} -> {target}"
            todo.append(target)
    assert seen == set(states)
    resume = {c["StringEquals"] for c in states["ResumeAt"]["Choices"]}
    assert resume == set(RESUMABLE_STATES)


def test_jsonpath_only(asl: dict[str, Any]) -> None:
    """moto's interpreter stubs JSONata and variables: stay on JSONPath."""
    text = DEFAULT_ASL.read_text(encoding="utf-8")
    assert asl.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert "{%" not in text and '"Assign"' not in text and '"Arguments"' not in text
    for state in asl["States"].values():
        assert state.get("QueryLanguage", "JSONPath") == "JSONPath"


def test_substitute_names_what_is_missing() -> None:
    from selfheal.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="FooFunctionArn"):
        substitute('{"Resource": "${FooFunctionArn}"}', {})


def _asl_validator() -> list[str] | None:
    exe = shutil.which("asl-validator")
    if exe:
        return [exe]
    local = os.environ.get("ASL_VALIDATOR")
    return [local] if local and Path(local).is_file() else None


def test_asl_validator_accepts_it_when_installed(tmp_path: Path) -> None:
    cmd = _asl_validator()
    if cmd is None:
        pytest.skip("npm asl-validator is not installed (set ASL_VALIDATOR or put it on PATH)")
    filled = substitute(DEFAULT_ASL.read_text(encoding="utf-8"),
                        filled_substitutions())
    path = tmp_path / "fix_error.asl.json"
    path.write_text(filled, encoding="utf-8")
    proc = subprocess.run([*cmd, "--json-definition", filled], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 and "unknown option" in (proc.stderr + proc.stdout).lower():
        proc = subprocess.run([*cmd, "--json-path", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
