"""Publish a validated fix: one branch and one pull request per error, however often re-run.

The branch is ``<branch_prefix><fingerprint[:12]>``. A re-run points the same branch at a fresh
commit on the base and updates the open PR instead of opening another; a branch left without a
PR (a crash between the two steps) gets its PR; a PR closed without merging is a reviewer's
"no" and is not reopened unless the operator re-drives the error; after a merged PR (the error
regressed) a new PR is opened.
"""

from __future__ import annotations

from collections.abc import Sequence

from selfheal.errors import MalformedInput, PullRequestClosed
from selfheal.ports import CodeHost, PullRequest

FINGERPRINT_TRAILER = "Selfheal-Fingerprint"


def fix_branch_name(fingerprint: str, branch_prefix: str = "selfheal/") -> str:
    """The one branch of an error's fix."""
    short = fingerprint.strip()[:12]
    if len(short) < 8 or not short.isalnum():
        raise MalformedInput(f"fingerprint {fingerprint!r} cannot name a branch")
    return f"{branch_prefix}{short}"


def commit_message(title: str, fingerprint: str, body: str = "") -> str:
    """Subject, optional body, and a trailer that ties the commit to its error."""
    parts = [title.strip()]
    if body.strip():
        parts.append(body.strip())
    parts.append(f"{FINGERPRINT_TRAILER}: {fingerprint}")
    return "\n\n".join(parts) + "\n"


def publish_fix(host: CodeHost, *, fingerprint: str, base_branch: str, base_revision: str,
                files: dict[str, str], title: str, body: str, message: str | None = None,
                branch_prefix: str = "selfheal/", labels: Sequence[str] = ("selfheal",),
                draft: bool = True, redrive: bool = False) -> PullRequest:
    """Commit ``files`` (path -> full new text) on the error's branch and open or update its PR.

    Raises ``PullRequestClosed`` when the error's newest PR was closed unmerged and ``redrive``
    is false; code host errors propagate with their retryable/permanent classes.
    """
    branch = fix_branch_name(fingerprint, branch_prefix)
    existing = host.find_pull_request(branch)
    if existing is not None and existing.state == "closed" and not redrive:
        raise PullRequestClosed(
            f"pull request {existing.url} for {branch} was closed without merging; "
            "re-drive the error to open a new one")
    host.commit_branch(branch, base_revision, files, message or commit_message(title, fingerprint))
    return host.open_pull_request(branch, base_branch, title, body, labels=labels, draft=draft)
