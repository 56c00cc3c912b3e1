"""GitLab adapters (python-gitlab) against the local fake GitLab backed by a real bare repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from selfheal.adapters.gitlab import GitLabHost, GitLabRepository, make_client
from selfheal.errors import (
    CodeHostAuthFailed,
    CodeHostForbidden,
    CodeHostRateLimited,
    CodeHostUnavailable,
    PullRequestClosed,
    SourceNotFound,
)
from selfheal.services.publish import publish_fix
from tests.support.fake_gitlab import FakeGitLab
from tests.support.git_repos import APP_PY, git, make_bare_repo

FP = "3f9a1c2b7d4e5f60718293a4b5c6d7e8"
BRANCH = "selfheal/3f9a1c2b7d4e"


@pytest.fixture
def gl(tmp_path: Path) -> Iterator[FakeGitLab]:
    with FakeGitLab(make_bare_repo(tmp_path / "remote.git", branch="trunk")).serve() as server:
        yield server


def _host(gl: FakeGitLab, token: str = "test-token") -> GitLabHost:
    return GitLabHost("acme/svc", client=make_client(token, gl.url))


def test_reads_source(gl: FakeGitLab) -> None:
    repo = GitLabRepository("acme/svc", client=make_client("test-token", gl.url))
    assert repo.default_branch() == "trunk"
    head = repo.resolve()
    assert head == git(gl.bare, "rev-parse", "trunk")
    assert sorted(repo.list_files(head)) == ["app.py", "run.sh", "tests/test_app.py"]
    assert repo.read_file("app.py", head) == APP_PY and repo.read_file("nope.py", head) is None
    with pytest.raises(SourceNotFound):
        repo.resolve("nope")
    with repo.checkout(head) as tree:
        assert (tree / "app.py").read_text() == APP_PY and (tree / "run.sh").stat().st_mode & 0o100
    assert not tree.exists()


def test_commit_branch_idempotent(gl: FakeGitLab) -> None:
    host = _host(gl)
    base = host.resolve()
    files = {"app.py": APP_PY + "# fix\n", "tests/test_new.py": "x = 1\n"}
    c1 = host.commit_branch(BRANCH, base, files, "fix")
    assert git(gl.bare, "rev-parse", BRANCH) == c1 and git(gl.bare, "rev-parse", f"{c1}^") == base
    assert host.commit_branch(BRANCH, base, dict(files), "fix") == c1
    c2 = host.commit_branch(BRANCH, base, {"app.py": APP_PY + "# fix 2\n"}, "fix")
    assert c2 != c1 and git(gl.bare, "rev-parse", f"{c2}^") == base
    # replaced, not stacked: the earlier commit's new test file is gone
    assert git(gl.bare, "ls-tree", "--name-only", c2, "tests/") == "tests/test_app.py"


def test_publish_three_times_one_branch_one_mr(gl: FakeGitLab) -> None:
    host = _host(gl)
    prs = [publish_fix(host, fingerprint=FP, base_branch="trunk", base_revision=host.resolve(),
                       files={"app.py": APP_PY + "# fix\n"}, title="fix(selfheal): guard", body=f"run {i}",
                       labels=["selfheal"]) for i in range(3)]
    assert [p.created for p in prs] == [True, False, False] and {p.number for p in prs} == {1}
    assert len(gl.mrs) == 1 and gl.mrs[1]["description"] == "run 2" and gl.mrs[1]["labels"] == ["selfheal"]
    assert prs[0].draft and prs[0].title == "fix(selfheal): guard"
    gl.close_mr(1)
    with pytest.raises(PullRequestClosed):
        publish_fix(host, fingerprint=FP, base_branch="trunk", base_revision=host.resolve(),
                    files={"app.py": APP_PY + "# other\n"}, title="t", body="b")
    again = publish_fix(host, fingerprint=FP, base_branch="trunk", base_revision=host.resolve(),
                        files={"app.py": APP_PY + "# other\n"}, title="t", body="b", redrive=True)
    assert again.created and again.number == 2


def test_errors(gl: FakeGitLab) -> None:
    host = _host(gl)
    gl.inject(429, "Too Many Requests", {"Retry-After": "9"}, path="/repository/commits/")
    with pytest.raises(CodeHostRateLimited) as info:
        host.resolve("trunk")
    assert info.value.retry_after == 9
    gl.inject(503, "unavailable", path="/merge_requests")
    with pytest.raises(CodeHostUnavailable):
        host.find_pull_request(BRANCH)
    with pytest.raises(CodeHostAuthFailed):
        _host(gl, token="wrong").resolve("trunk")
    base = host.resolve()
    gl.protected.add(BRANCH)
    with pytest.raises(CodeHostForbidden, match="not allowed to push"):
        host.commit_branch(BRANCH, base, {"app.py": "x\n"}, "fix")
    with pytest.raises(CodeHostForbidden):
        host.open_pull_request("selfheal/none", "trunk", "t", "b")
