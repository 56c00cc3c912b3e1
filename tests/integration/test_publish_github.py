"""publish_fix over the GitHub adapter and the fake GitHub: one branch and one PR per error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from selfheal.adapters.github import GitHubHost, make_client
from selfheal.errors import CodeHostRateLimited, PullRequestClosed
from selfheal.ports import PullRequest
from selfheal.services.publish import publish_fix
from tests.support.fake_github import FakeGitHub
from tests.support.git_repos import APP_PY, git, make_bare_repo

FP = "3f9a1c2b7d4e5f60718293a4b5c6d7e8"
BRANCH = "selfheal/3f9a1c2b7d4e"


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[FakeGitHub]:
    with FakeGitHub(make_bare_repo(tmp_path / "remote.git")).serve() as server:
        yield server


def _publish(host: GitHubHost, body: str, redrive: bool = False, extra: str = "") -> PullRequest:
    return publish_fix(host, fingerprint=FP, base_branch=host.default_branch(), base_revision=host.resolve(),
                       files={"app.py": APP_PY + "# fixed\n" + extra}, title="fix(selfheal): guard",
                       body=body, labels=["selfheal"], redrive=redrive)


def test_three_runs_one_branch_one_pr(gh: FakeGitHub) -> None:
    host = GitHubHost("acme/svc", client=make_client("test-token", gh.base_url, throttle=False))
    prs = [_publish(host, f"run {i}") for i in range(3)]
    assert [p.created for p in prs] == [True, False, False] and {p.number for p in prs} == {1}
    assert len(gh.pulls) == 1 and gh.pulls[1]["body"] == "run 2" and gh.pulls[1]["draft"]
    assert gh.pulls[1]["labels"] == ["selfheal"]
    assert git(gh.bare, "for-each-ref", "--format=%(refname:short)", "refs/heads/selfheal/") == BRANCH
    assert f"Selfheal-Fingerprint: {FP}" in git(gh.bare, "log", "-1", "--format=%B", BRANCH)
    # runs 1 and 2 changed the body: reviewers got one comment each; an identical re-run adds none
    assert len(gh.comments[1]) == 2 and "regenerated" in gh.comments[1][0]["body"]
    _publish(host, "run 2")
    assert len(gh.comments[1]) == 2


def test_rerun_after_a_rate_limit_converges(gh: FakeGitHub) -> None:
    host = GitHubHost("acme/svc", client=make_client("test-token", gh.base_url, throttle=False))
    gh.inject(429, "slow down", {"Retry-After": "1"}, method="POST", path=r"/pulls$")
    with pytest.raises(CodeHostRateLimited):
        _publish(host, "first")          # branch pushed, PR creation rate-limited
    assert git(gh.bare, "rev-parse", BRANCH)
    pr = _publish(host, "retry")         # the workflow's retry: the branch gets its PR
    assert pr.created and len(gh.pulls) == 1


def test_closed_pr_needs_redrive(gh: FakeGitHub) -> None:
    host = GitHubHost("acme/svc", client=make_client("test-token", gh.base_url, throttle=False))
    _publish(host, "one")
    tip = git(gh.bare, "rev-parse", BRANCH)
    gh.close_pull(1)
    with pytest.raises(PullRequestClosed):
        _publish(host, "two", extra="# different\n")
    assert git(gh.bare, "rev-parse", BRANCH) == tip
    pr = _publish(host, "three", redrive=True)
    assert pr.created and pr.number == 2 and gh.pulls[1]["state"] == "closed"
