"""publish_fix over the local git code host: one branch and one PR per error, however often
the commit + PR step runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.adapters.local_git import LocalGitHost, LocalGitRepository
from selfheal.adapters.local_prs import PrRecordStore
from selfheal.errors import MalformedInput, PullRequestClosed
from selfheal.ports import PullRequest
from selfheal.services.publish import fix_branch_name, publish_fix
from tests.support.git_repos import APP_PY, git, make_work_repo, snapshot_worktree

FP = "3f9a1c2b7d4e5f60718293a4b5c6d7e8"
FIXED = APP_PY.replace("return sum(values) / len(values)",
                       "return sum(values) / len(values) if values else 0.0")


def _setup(tmp_path: Path) -> tuple[Path, LocalGitRepository, LocalGitHost]:
    work = make_work_repo(tmp_path / "svc")
    repo = LocalGitRepository(work)
    return work, repo, LocalGitHost(repo, tmp_path / "home")


def _publish(repo: LocalGitRepository, host: LocalGitHost, body: str = "body", redrive: bool = False,
             files: dict[str, str] | None = None) -> PullRequest:
    return publish_fix(host, fingerprint=FP, base_branch=repo.default_branch(), base_revision=repo.resolve(),
                       files=files or {"app.py": FIXED}, title="fix(selfheal): guard", body=body,
                       labels=["selfheal", "bot"], redrive=redrive)


def test_three_runs_one_branch_one_pr(tmp_path: Path) -> None:
    work, repo, host = _setup(tmp_path)
    (work / "app.py").write_text("dirty user edit\n")
    before = snapshot_worktree(work)
    prs = [_publish(repo, host, body=f"run {i}") for i in range(3)]
    assert [p.created for p in prs] == [True, False, False]
    assert {p.number for p in prs} == {1}
    assert git(work, "branch", "--list", "selfheal/*") == "selfheal/3f9a1c2b7d4e"
    records = PrRecordStore(tmp_path / "home").all()
    assert len(records) == 1 and records[0].body == "run 2" and records[0].labels == ["selfheal", "bot"]
    msg = git(work, "log", "-1", "--format=%B", "selfheal/3f9a1c2b7d4e")
    assert msg.startswith("fix(selfheal): guard") and f"Selfheal-Fingerprint: {FP}" in msg
    assert snapshot_worktree(work) == before


def test_branch_without_pr_gets_its_pr(tmp_path: Path) -> None:
    work, repo, host = _setup(tmp_path)
    host.commit_branch("selfheal/3f9a1c2b7d4e", repo.resolve(), {"app.py": "older attempt\n"}, "old")
    pr = _publish(repo, host)
    assert pr.created and pr.branch == "selfheal/3f9a1c2b7d4e"
    assert git(work, "show", "selfheal/3f9a1c2b7d4e:app.py") + "\n" == FIXED


def test_closed_pr_not_reopened_without_redrive(tmp_path: Path) -> None:
    work, repo, host = _setup(tmp_path)
    first = _publish(repo, host)
    tip = git(work, "rev-parse", "selfheal/3f9a1c2b7d4e")
    assert first.number is not None
    PrRecordStore(tmp_path / "home").set_state(first.number, "closed")
    with pytest.raises(PullRequestClosed):
        _publish(repo, host, files={"app.py": FIXED + "# other\n"})
    assert git(work, "rev-parse", "selfheal/3f9a1c2b7d4e") == tip      # branch untouched
    again = _publish(repo, host, redrive=True)
    assert again.created and again.number == 2 and again.state == "open"
    assert PrRecordStore(tmp_path / "home").get(1).state == "closed"


def test_merged_pr_then_regression_opens_a_new_pr(tmp_path: Path) -> None:
    _, repo, host = _setup(tmp_path)
    first = _publish(repo, host)
    assert first.number is not None
    PrRecordStore(tmp_path / "home").set_state(first.number, "merged")
    assert _publish(repo, host).number == 2


def test_branch_name() -> None:
    assert fix_branch_name(FP) == "selfheal/3f9a1c2b7d4e"
    assert fix_branch_name(FP, "bots/fix-") == "bots/fix-3f9a1c2b7d4e"
    for bad in ("", "abc", "../../etc/passwd"):
        with pytest.raises(MalformedInput):
            fix_branch_name(bad)
