"""Pins the one hook into moto's internals (selfheal.adapters.moto_lambda_hook): moto's version,
the Lambda invoke dispatch, Lambda-style failures matched by ErrorEquals on our class names,
and the scaled Retry sleep. If moto changes, this file says where."""

from __future__ import annotations

import json
from typing import Any

import moto
import pytest

from selfheal.adapters import moto_lambda_hook
from selfheal.adapters.sfn_local import LocalWorkflowEngine
from selfheal.errors import ModelThrottled, SourceNotFound


def test_moto_is_the_pinned_version() -> None:
    assert moto.__version__ == moto_lambda_hook.PINNED_MOTO


def test_dispatch_runs_the_handler_and_reports_failures_like_lambda() -> None:
    moto_lambda_hook.install({"hook-ok": lambda e, c: {"got": e["x"], "fn": c.function_name},
                              "hook-bad": lambda e, c: (_ for _ in ()).throw(SourceNotFound("nope"))})
    headers: dict[str, Any] = {}
    out = moto_lambda_hook.dispatch("arn:aws:lambda:us-east-1:123456789012:function:hook-ok",
                                    b'{"x": 1}', headers)
    assert json.loads(out) == {"got": 1, "fn": "hook-ok"} and "x-amz-function-error" not in headers
    out = moto_lambda_hook.dispatch("hook-bad", b"{}", headers)
    assert headers["x-amz-function-error"] == "Unhandled"
    body = json.loads(out)
    assert body["errorType"] == "SourceNotFound" and body["errorMessage"] == "nope"
    headers.clear()
    json.loads(moto_lambda_hook.dispatch("nobody", b"{}", headers))
    assert headers["x-amz-function-error"] == "Unhandled"


def test_the_patched_methods_are_in_place() -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    moto_lambda_hook.install({}, retry_scale=0.0)
    assert LambdaSimpleBackend.invoke is moto_lambda_hook._invoke
    assert lambda_eval_utils.boto_client_for("us-east-1", "lambda") is \
        lambda_eval_utils.boto_client_for("us-east-1", "lambda")
    retrier_decl.time.sleep(10_000)  # returns at once: scaled to zero (a hang means the hook broke)


@pytest.mark.timeout(120)
def test_engine_retries_on_class_name_then_catches_the_rest(tmp_path: Any) -> None:
    calls: list[str] = []

    def flaky(event: dict[str, Any], _ctx: Any) -> dict[str, Any]:
        calls.append("flaky")
        if len(calls) < 3:
            raise ModelThrottled("slow down")
        return {**event, "flaky": "ok"}

    def broken(event: dict[str, Any], _ctx: Any) -> dict[str, Any]:
        raise SourceNotFound("no file")

    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Resource": "${AFunctionArn}", "Next": "B",
                  "Retry": [{"ErrorEquals": ["ModelThrottled"], "IntervalSeconds": 5, "MaxAttempts": 3,
                             "BackoffRate": 2.0, "JitterStrategy": "FULL"}]},
            "B": {"Type": "Task", "Resource": "${BFunctionArn}", "End": True,
                  "Retry": [{"ErrorEquals": ["ModelThrottled"], "IntervalSeconds": 5, "MaxAttempts": 3}],
                  "Catch": [{"ErrorEquals": ["SourceNotFound"], "ResultPath": "$.failure", "Next": "C"}]},
            "C": {"Type": "Pass", "End": True},
        },
    }
    path = tmp_path / "t.asl.json"
    path.write_text(json.dumps(definition))
    with LocalWorkflowEngine({"A": flaky, "B": broken}, path, retry_scale=0.001,
                             machine_name="hook-test") as engine:
        ex = engine.start("run-1", {"n": 1})
        assert engine.start("run-1", {"n": 1}) == ex  # same name: the same execution
        info = engine.wait(ex, timeout=60)
        history = engine.history(ex)
    assert info.status == "SUCCEEDED"
    assert info.output is not None and info.output["flaky"] == "ok"
    assert info.output["failure"]["Error"] == "SourceNotFound"
    assert json.loads(info.output["failure"]["Cause"])["errorMessage"] == "no file"
    errors = [e["lambdaFunctionFailedEventDetails"]["error"] for e in history
              if e["type"] == "LambdaFunctionFailed"]
    assert errors == ["ModelThrottled", "ModelThrottled", "SourceNotFound"]
