"""Express within its limits, statically: every path of one execution of the fix workflow —
each Task at its timeout (the smaller of the state's and its Lambda's, from template.yaml) with
every retry and backoff, the one inline rate-limit wait at its bound — fits in 300 s with a
margin. And the checker itself fails where it must (a raised timeout, an unbounded loop)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from selfheal.domain.asl_budget import EXPRESS_LIMIT_S, Bounds, BudgetError, retry_delays, worst_path
from selfheal.names import function_arn_substitution
from selfheal.services.workflow.flow import INLINE_WAIT_MAX_S, INLINE_WAIT_STATE
from tests.support.deploy_sam import ASL, load_template

MARGIN_S = 30  # start latency, clock skew, Lambda cold starts beyond the timeouts


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return json.loads(ASL.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template()


def lambda_timeouts(sam: dict[str, Any], asl: dict[str, Any]) -> dict[str, float]:
    """Task state -> its function's ``Timeout`` (the template's substitution names the function)."""
    subs = sam["Resources"]["FixStateMachine"]["Properties"]["DefinitionSubstitutions"]
    default = sam["Globals"]["Function"].get("Timeout", 3)
    out: dict[str, float] = {}
    for name, state in asl["States"].items():
        if state["Type"] != "Task" or state["Resource"].startswith("arn:aws:states:::"):
            continue
        ref = subs[function_arn_substitution(name)]
        # a parameter may choose between functions (ValidatePatchPackage): the slower counts
        choices = ref["Fn::If"][1:] if "Fn::If" in ref else [ref]
        out[name] = max(float(sam["Resources"][c["Fn::GetAtt"][0]]["Properties"].get("Timeout", default))
                        for c in choices)
    return out


def bounds(sam: dict[str, Any], asl: dict[str, Any]) -> Bounds:
    return Bounds(lambda_timeouts=lambda_timeouts(sam, asl),
                  wait_seconds={INLINE_WAIT_STATE: INLINE_WAIT_MAX_S}, gates={INLINE_WAIT_STATE: 1})


def test_every_path_of_one_execution_fits_express_with_margin(asl: dict[str, Any],
                                                              sam: dict[str, Any]) -> None:
    assert sam["Parameters"]["WorkflowType"]["Default"] == "EXPRESS"
    worst = worst_path(asl, bounds(sam, asl))
    print(f"worst path {worst.seconds:.0f} s: {' -> '.join(worst.states)}")
    assert worst.seconds <= EXPRESS_LIMIT_S - MARGIN_S, worst
    assert asl["TimeoutSeconds"] <= EXPRESS_LIMIT_S


def test_each_lambda_ends_no_later_than_its_state(asl: dict[str, Any], sam: dict[str, Any]) -> None:
    """A Lambda that outlives its state would keep working (and writing) after the state gave up."""
    for name, seconds in lambda_timeouts(sam, asl).items():
        assert seconds <= asl["States"][name]["TimeoutSeconds"], name


def test_the_inline_wait_bound_is_the_one_the_asl_routes_on(asl: dict[str, Any]) -> None:
    rule = asl["States"]["WaitHere"]["Choices"][0]["And"]
    assert {"Variable": "$.flow.wait_seconds", "NumericLessThanEquals": INLINE_WAIT_MAX_S} in rule
    assert {"Variable": "$.flow.inline_waits", "NumericEquals": 0} in rule
    assert asl["States"][INLINE_WAIT_STATE]["SecondsPath"] == "$.flow.wait_seconds"
    assert asl["States"]["NoteInlineWait"] == {**asl["States"]["NoteInlineWait"], "Result": 1,
                                               "ResultPath": "$.flow.inline_waits"}


def test_a_long_task_state_breaks_the_budget(asl: dict[str, Any], sam: dict[str, Any]) -> None:
    """The check above can fail: the old 300 s model call with retries does not fit."""
    old = copy.deepcopy(asl)
    old["States"]["InvokeModel"]["TimeoutSeconds"] = 300
    b = bounds(sam, asl)
    slow = Bounds(lambda_timeouts={**b.lambda_timeouts, "InvokeModel": 300},
                  wait_seconds=b.wait_seconds, gates=b.gates)
    assert worst_path(old, slow).seconds > EXPRESS_LIMIT_S


def test_the_repair_loop_inside_one_execution_is_refused(asl: dict[str, Any], sam: dict[str, Any]) -> None:
    looped = copy.deepcopy(asl)
    # the old in-execution loop: reply -> validate -> repair -> model -> validate ...
    looped["States"]["AfterInvokeModel"]["Default"] = "ValidatePatch"
    looped["States"]["CheckVerdict"]["Choices"][1]["Next"] = "BuildPrompt"
    with pytest.raises(BudgetError, match="unbounded cycle"):
        worst_path(looped, bounds(sam, asl))


def test_retries_and_backoff_are_counted_at_their_worst() -> None:
    retrier = {"ErrorEquals": ["X"], "IntervalSeconds": 2, "BackoffRate": 3.0, "MaxAttempts": 3,
               "MaxDelaySeconds": 10, "JitterStrategy": "FULL"}
    assert retry_delays(retrier) == [2, 6, 10]
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "r", "TimeoutSeconds": 20, "Retry": [retrier], "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 5, "End": True}}}
    assert worst_path(definition).seconds == 4 * 20 + 18 + 5
    # the Lambda's own timeout caps a try when it is shorter than the state's
    assert worst_path(definition, Bounds(lambda_timeouts={"A": 10})).seconds == 4 * 10 + 18 + 5


def test_a_task_without_a_timeout_or_an_unbounded_wait_is_refused() -> None:
    with pytest.raises(BudgetError, match="no static timeout"):
        worst_path({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": True}}})
    with pytest.raises(BudgetError, match="no static bound"):
        worst_path({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}})
