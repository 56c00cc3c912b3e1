"""The second half of a final state: the error's status follows its finished attempt.

A final state (MarkDone, RecordAbstain, RecordFailure) finishes its attempt first and then moves
the status, so whoever sees the final status sees the attempt finished. Between the two writes
the error is ``FIXING`` with a finished attempt; ``settle_status`` completes that, from the
final state itself, from its retry (refused as a late step, its attempt being finished), or from
the sweeper when the execution died in between.

The store cannot tell that state from a start that stopped between claiming FIXING and
appending its attempt (the current attempt is then the previous, finished one); settling it
returns the error to the status of its last attempt, which is what it was before that start.
"""

from __future__ import annotations

from selfheal.domain.records import Status
from selfheal.ports import ErrorStore


def settle_status(store: ErrorStore, fingerprint: str, attempt: int | None,
                  branch: str | None = None, pr_url: str | None = None) -> bool:
    """Move an error that is still FIXING to the status its finished attempt ``attempt``'s
    outcome names (``pr_open`` -> PR_OPEN with ``branch`` and ``pr_url``, which it needs;
    ``abstained`` -> ABSTAINED; ``failed`` -> FAILED); True when it did. Only the error's current
    attempt settles it (a starter moves the error to FIXING a moment before it appends the next
    attempt; a late duplicate of the previous final state would have to land exactly there).
    ``ConcurrentUpdate`` when someone else moved the error meanwhile."""
    record = store.get(fingerprint)
    current = record.current_attempt if record is not None else None
    if record is None or record.status != Status.FIXING or current is None or current.number != attempt:
        return False
    fields: dict[str, str] | None = None
    if current.outcome == "pr_open" and branch and pr_url:
        to, reason = Status.PR_OPEN, "draft pull request open"
        fields = {"branch": branch, "pr_url": pr_url}
    elif current.outcome == "abstained":
        to, reason = Status.ABSTAINED, "; ".join(current.reasons)
    elif current.outcome == "failed":
        to, reason = Status.FAILED, f"{current.failed_state}: {current.error}: {current.cause}"
    else:
        return False
    store.transition(fingerprint, to, expected=[Status.FIXING], reason=reason[:1000], fields=fields)
    return True
