"""The dispatch decision for a fingerprint migration's write of a merged record (issue #12): a
record that qualified for a fix on its own had its request sent under its own id, so the merge
queues nothing; a merge that makes the error qualify queues exactly one ``new``."""

from __future__ import annotations

import pytest

from selfheal.domain.fingerprint_migration import MergedRecord
from selfheal.domain.records import ErrorRecord, Status
from selfheal.services.dispatch import decide
from selfheal.services.policy import Policy

S = Status
NEW_ID = "ab" * 16


def merged(status: Status, count: int) -> ErrorRecord:
    return ErrorRecord(fingerprint=NEW_ID, status=status, count=count, exc_type="ZeroDivisionError")


@pytest.mark.parametrize(("before", "after", "queued"), [
    ([(S.NEW, 2)], (S.NEW, 2), None),  # re-keyed alone: its own request is waiting
    ([(S.NEW, 2), (S.NEW, 1)], (S.NEW, 3), None),  # one of them qualified: requested already
    ([(S.NEW, 1), (S.NEW, 1)], (S.NEW, 2), "new"),  # only together: the merge is the crossing
    ([(S.NEW, 1)], (S.NEW, 1), None),  # still below the minimum
    ([(S.QUEUED, 1), (S.NEW, 1)], (S.QUEUED, 2), None),  # the re-drive was requested already
    ([(S.REGRESSED, 1), (S.FAILED, 4)], (S.REGRESSED, 5), None),
    ([(S.FAILED, 3), (S.ABSTAINED, 1)], (S.FAILED, 4), None),  # finished: no new fix
    ([(S.NEW, 1), (S.FAILED, 3)], (S.NEW, 4), "new"),  # the NEW one qualifies only now
    ([(S.PR_OPEN, 1), (S.NEW, 5)], (S.PR_OPEN, 6), None),
])
def test_a_migrated_record_is_queued_exactly_when_nothing_was(
        before: list[tuple[Status, int]], after: tuple[Status, int], queued: str | None) -> None:
    policy = Policy(min_occurrences=2)
    merged_from = [MergedRecord(f"{n:032x}", status, count) for n, (status, count) in enumerate(before)]
    request = decide(policy, None, merged(*after), merged_from)
    assert (request.reason if request else None) == queued
    if request:
        assert request.fingerprint == NEW_ID


def test_an_ignored_merged_record_is_never_queued() -> None:
    policy = Policy(ignore_types=("ZeroDivisionError",))
    assert decide(policy, None, merged(S.NEW, 3), [MergedRecord("a" * 32, S.NEW, 1)]) is None


def test_an_ordinary_change_is_judged_as_before() -> None:
    policy = Policy(min_occurrences=2)
    assert decide(policy, merged(S.NEW, 1), merged(S.NEW, 2)) is not None  # crosses the minimum
    assert decide(policy, merged(S.NEW, 2), merged(S.NEW, 3)) is None  # a count update
