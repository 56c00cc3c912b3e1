"""Policy decisions: ignore rules, minimum occurrences, re-drive, regression, the hourly cap."""

from __future__ import annotations

import pytest

from selfheal.domain.records import ErrorRecord, FrameRef, Status
from selfheal.errors import ConfigurationError
from selfheal.services.policy import Policy
from selfheal.settings import load_settings


def rec(status: Status = Status.NEW, count: int = 1, **kw: object) -> ErrorRecord:
    base: dict[str, object] = {"fingerprint": "a" * 32, "status": status, "count": count,
                               "exc_type": "KeyError", "message": "'user'",
                               "frames": [FrameRef(file="app/views.py", function="get")]}
    base.update(kw)
    return ErrorRecord.model_validate(base)


def test_new_error_is_queued_once_by_default() -> None:
    p = Policy()
    assert p.enqueue_reason(None, rec()) == "new"
    assert p.enqueue_reason(rec(count=1), rec(count=2)) is None  # a mere count update
    assert p.enqueue_reason(rec(), None) is None  # removal


def test_min_occurrences_counts_the_update_that_reaches_it() -> None:
    p = Policy(min_occurrences=3)
    assert p.enqueue_reason(None, rec(count=2)) is None
    assert p.enqueue_reason(rec(count=2), rec(count=5)) == "new"
    assert p.enqueue_reason(rec(count=5), rec(count=6)) is None
    assert p.enqueue_reason(None, rec(count=3)) == "new"


def test_redrive_and_regression_on_status_change_only() -> None:
    p = Policy()
    assert p.enqueue_reason(rec(Status.FAILED), rec(Status.QUEUED)) == "redrive"
    assert p.enqueue_reason(rec(Status.QUEUED), rec(Status.QUEUED, count=2)) is None
    assert p.enqueue_reason(rec(Status.RESOLVED), rec(Status.REGRESSED)) == "regressed"
    assert p.enqueue_reason(rec(Status.REGRESSED), rec(Status.REGRESSED, count=9)) is None
    assert p.enqueue_reason(rec(Status.NEW), rec(Status.FIXING)) is None
    assert p.is_regression(Status.RESOLVED) and not p.is_regression(Status.PR_OPEN)


@pytest.mark.parametrize(("policy", "reason"), [
    (Policy(ignore_types=("KeyError",)), "exception type KeyError"),
    (Policy(ignore_types=("builtins.KeyError",)), None),
    (Policy(ignore_paths=("app/*.py",)), "path app/*.py"),
    (Policy(ignore_paths=("vendor/*",)), None),
    (Policy(ignore_messages=(r"'us.r'",)), "message /'us.r'/"),
    (Policy(ignore_messages=(r"^timeout",)), None),
])
def test_ignore_rules(policy: Policy, reason: str | None) -> None:
    assert policy.record_ignore_reason(rec()) == reason
    expected = None if reason else "new"
    assert policy.enqueue_reason(None, rec()) == expected


def test_dotted_type_matches_short_rule() -> None:
    p = Policy(ignore_types=("ConnectionError",))
    assert p.ignore_reason("requests.exceptions.ConnectionError", "", []) == "exception type ConnectionError"


def test_ignored_status_never_queues() -> None:
    assert Policy().enqueue_reason(rec(Status.NEW), rec(Status.IGNORED)) is None


def test_cap_and_settings() -> None:
    p = Policy.from_settings(load_settings({"max_fixes_per_hour": 2, "min_occurrences": 4,
                                            "ignore_types": ["KeyError"]}, env={}))
    assert (p.max_fixes_per_hour, p.min_occurrences, p.ignore_types) == (2, 4, ("KeyError",))
    assert not p.cap_reached(1) and p.cap_reached(2)
    with pytest.raises(ConfigurationError):
        Policy(ignore_messages=("(",))
    with pytest.raises(ConfigurationError):
        Policy(min_occurrences=0)
