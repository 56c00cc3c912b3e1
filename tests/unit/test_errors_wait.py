"""The wait a service asks for travels on the error, clamped; the workflow reads ``retry_after``."""

from __future__ import annotations

import pytest

from selfheal.errors import (
    MAX_RETRY_AFTER_S,
    CodeHostRateLimited,
    ModelNotReady,
    ModelThrottled,
    ModelUnavailable,
    RateLimited,
    RetryableError,
    retry_after_of,
)


@pytest.mark.parametrize("cls", [CodeHostRateLimited, ModelThrottled, ModelNotReady])
def test_rate_limit_classes_carry_a_clamped_wait(cls: type[RateLimited]) -> None:
    assert issubclass(cls, RateLimited) and issubclass(cls, RetryableError)
    assert cls("x", retry_after=30).retry_after == 30.0
    assert cls("x", retry_after=-5).retry_after == 0.0
    assert cls("x", retry_after=99_999).retry_after == MAX_RETRY_AFTER_S
    assert cls("x").retry_after is None
    assert retry_after_of(cls("x", retry_after=12.5)) == 12.5


def test_other_errors_ask_for_no_wait() -> None:
    assert retry_after_of(ModelUnavailable("down")) is None
    assert retry_after_of(ValueError("x")) is None
