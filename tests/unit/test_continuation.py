"""The pieces of a continuation: which errors become a wait and how long, the next execution's
input, the queue message, and the countdown a local wait shows (no real sleeping)."""

from __future__ import annotations

import json

import pytest

from selfheal.errors import (
    CodeHostRateLimited,
    CodeHostUnavailable,
    MalformedInput,
    ModelThrottled,
    ModelUnavailable,
)
from selfheal.services.workflow.chain import wait_with_countdown
from selfheal.services.workflow.continuation import (
    asked_wait,
    backoff_seconds,
    continuation_name,
    deferred,
    next_input,
    parse_continuation,
)
from selfheal.services.workflow.flow import SQS_MAX_DELAY_S
from selfheal.services.workflow.models import FixState


def test_a_rate_limit_waits_as_told_and_a_transient_model_error_backs_off() -> None:
    assert asked_wait("CommitBranch", CodeHostRateLimited("403", retry_after=42), 0) == 42
    assert asked_wait("OpenPullRequest", CodeHostRateLimited("429"), 2) == backoff_seconds(2)  # no header
    assert asked_wait("InvokeModel", ModelThrottled("429", retry_after=20), 0) == 20  # not a 2 s retry
    assert asked_wait("InvokeModel", ModelUnavailable("503"), 1) == backoff_seconds(1)
    assert asked_wait("CommitBranch", CodeHostUnavailable("502"), 0) is None  # the ASL retries that
    assert [backoff_seconds(n) for n in range(3)] == [15, 30, 60]
    assert backoff_seconds(20) == SQS_MAX_DELAY_S


def test_deferred_sets_whole_seconds_only_for_deferrable_states() -> None:
    payload = FixState(fingerprint="f" * 32, attempt=1)
    out = deferred("OpenPullRequest", payload, CodeHostRateLimited("429", retry_after=1.2))
    assert out is not None and (out.flow.wait_state, out.flow.wait_seconds, out.flow.wait_error) == (
        "OpenPullRequest", 2, "CodeHostRateLimited")
    assert deferred("FetchSource", FixState(fingerprint="f" * 32), CodeHostRateLimited("x", 5)) is None


def test_the_next_execution_keeps_the_work_and_drops_this_executions_flow() -> None:
    payload = {"fingerprint": "f" * 32, "attempt": 2, "resume_from": "ValidatePatch", "round": 1,
               "artifacts": {"reply": "r"}, "execution": {"name": "x"}, "failure": {"Error": "E"},
               "continue_at": "ValidatePatch",
               "flow": {"continuations": 3, "inline_waits": 1, "delay_seconds": 5, "request": "q"}}
    assert next_input(payload) == {"fingerprint": "f" * 32, "attempt": 2, "resume_from": "ValidatePatch",
                                   "round": 1, "artifacts": {"reply": "r"}, "flow": {"continuations": 3}}
    assert continuation_name("0123456789abcdef", 2, 3) == "0123456789ab-2-c3"


def test_queue_messages_are_told_apart_and_validated() -> None:
    assert parse_continuation(json.dumps({"fingerprint": "ab" * 8, "reason": "new"})) is None
    assert parse_continuation("not json") is None
    message = parse_continuation(json.dumps({"fingerprint": "ab" * 8, "reason": "continue", "attempt": 1,
                                             "payload": {"resume_from": "MarkDone"}}))
    assert message is not None and message.attempt == 1
    with pytest.raises(MalformedInput):
        parse_continuation(json.dumps({"reason": "continue", "attempt": "one"}))


def test_a_long_wait_counts_down_without_a_line_per_second() -> None:
    slept: list[float] = []
    shown: list[tuple[str, float]] = []
    wait_with_countdown(25.0, "OpenPullRequest", countdown=lambda s, left: shown.append((s, left)),
                        sleep=slept.append)
    assert sum(slept) == 25.0
    assert [left for _, left in shown] == [25, 20, 10, 5, 4, 3, 2, 1]
    assert {s for s, _ in shown} == {"OpenPullRequest"}
