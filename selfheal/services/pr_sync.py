"""PR sync: move errors whose fix PR was merged or closed out of ``PR_OPEN``.

For every error in ``PR_OPEN`` the code host is asked for the newest PR of the error's branch:

- **merged** -> ``RESOLVED`` ("fix PR merged: <url>"). ``pr_url`` is kept, so when ingest sees
  the error again it becomes ``REGRESSED`` with ``previous_pr_url`` = that PR and is queued for
  a new fix (``IngestService``; on AWS the DynamoDB stream does the same through dispatch).
- **closed without merge** -> ``FAILED`` ("fix PR closed without merge: <url>"). A reviewer
  rejected this fix, so the error is not fixed (not RESOLVED), not to be silenced (not IGNORED:
  the error still happens and still counts), and must not be re-fixed automatically (not QUEUED,
  which would open the same rejected kind of PR again at once). FAILED is where the operator
  looks for fixes that did not work out; a re-drive there is the explicit "try again" that
  ``publish_fix`` requires before it opens a new PR where one was closed. This needed the
  transition PR_OPEN -> FAILED (added to ``ALLOWED_TRANSITIONS``).
- **open**, or no PR found (the branch was deleted, or the code host forgot it): unchanged.

Every change is a conditional write expecting ``PR_OPEN``: an error that a person, ingest or a
fix changed meanwhile is left alone. A code host failure for one error is reported and the
others are still synced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from selfheal.domain.records import ErrorRecord, Status, utcnow
from selfheal.errors import ConcurrentUpdate, ErrorNotFound, InvalidTransition, SelfhealError
from selfheal.ports import CodeHost, ErrorStore, PullRequest

MERGED_REASON = "fix PR merged: {url}"
CLOSED_REASON = "fix PR closed without merge: {url}; re-drive to try another fix"


@dataclass
class SyncChange:
    """One error whose PR state was looked at."""

    fingerprint: str
    branch: str | None
    pr_url: str | None
    pr_state: str  # open | merged | closed | missing | error
    status: Status  # the error's status after the sync
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "branch": self.branch, "pr_url": self.pr_url,
                "pr_state": self.pr_state, "status": str(self.status), "note": self.note}


@dataclass
class SyncReport:
    """What one sync found and did."""

    checked_at: datetime
    checked: int = 0
    resolved: list[str] = field(default_factory=list)  # PR merged -> RESOLVED
    failed: list[str] = field(default_factory=list)  # PR closed unmerged -> FAILED
    still_open: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # no branch on the record, or no PR for it
    skipped: list[str] = field(default_factory=list)  # changed by someone else meanwhile
    problems: list[str] = field(default_factory=list)  # one readable line per code host failure
    changes: list[SyncChange] = field(default_factory=list)

    def summary(self) -> str | None:
        """One line for a log or a console when the sync changed something or hit a problem."""
        if not (self.resolved or self.failed or self.problems):
            return None
        parts = [f"{len(self.resolved)} resolved (PR merged)", f"{len(self.failed)} failed (PR closed)"]
        if self.problems:
            parts.append(f"{len(self.problems)} problem(s): {self.problems[0]}")
        return "PR sync: " + ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"checked_at": self.checked_at.isoformat(), "checked": self.checked,
                "resolved": self.resolved, "failed": self.failed, "still_open": self.still_open,
                "missing": self.missing, "skipped": self.skipped, "problems": self.problems,
                "changes": [c.as_dict() for c in self.changes]}


def sync_pull_requests(store: ErrorStore, host: CodeHost, *, now: datetime | None = None) -> SyncReport:
    """Look up the fix PR of every ``PR_OPEN`` error and apply merges and closes (see module
    docstring). ``now`` stamps the report (default: the current time)."""
    report = SyncReport(checked_at=now or utcnow())
    for record in store.list(Status.PR_OPEN):
        report.checked += 1
        report.changes.append(_sync_one(store, host, record, report))
    return report


def _sync_one(store: ErrorStore, host: CodeHost, record: ErrorRecord, report: SyncReport) -> SyncChange:
    fp = record.fingerprint
    change = SyncChange(fingerprint=fp, branch=record.branch, pr_url=record.pr_url, pr_state="missing",
                        status=record.status)
    if not record.branch:
        report.missing.append(fp)
        change.note = "the error has no fix branch recorded"
        return change
    try:
        pr = host.find_pull_request(record.branch)
    except SelfhealError as exc:
        report.problems.append(f"{record.short_id}: cannot read the PR of {record.branch}: "
                               f"{type(exc).__name__}: {exc}")
        change.pr_state, change.note = "error", f"{type(exc).__name__}: {exc}"
        return change
    if pr is None:
        report.missing.append(fp)
        change.note = f"no pull request from {record.branch}"
        return change
    change.pr_state, change.pr_url = pr.state, pr.url or record.pr_url
    if pr.state == "open":
        report.still_open.append(fp)
        return change
    to, reason, bucket = ((Status.RESOLVED, MERGED_REASON, report.resolved) if pr.state == "merged"
                          else (Status.FAILED, CLOSED_REASON, report.failed))
    try:
        moved = store.transition(fp, to, expected=[Status.PR_OPEN], reason=reason.format(url=pr.url),
                                 fields=_fields(record, pr))
    except (ConcurrentUpdate, InvalidTransition, ErrorNotFound) as exc:
        report.skipped.append(fp)
        change.note = f"left alone: {exc}"
        return change
    bucket.append(fp)
    change.status, change.note = moved.status, moved.status_reason or ""
    return change


def _fields(record: ErrorRecord, pr: PullRequest) -> dict[str, Any] | None:
    """Keep ``pr_url`` pointing at the PR that was merged or closed (it becomes the regression's
    ``previous_pr_url``); fill it in when the record lacks it."""
    return {"pr_url": pr.url} if pr.url and pr.url != record.pr_url else None
