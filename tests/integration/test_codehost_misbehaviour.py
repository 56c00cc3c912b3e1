"""The code-host adapters, unchanged, against fakes that misbehave like the real services.

GitHub: replica lag after writes (422 "No commits between" for a branch just written, 422 "Could
not resolve to a node" labelling a PR just opened), a concurrent run opening the same PR first,
plans without draft PRs, 1-100 MB files the contents API serves without content, empty and
invisible repositories, HTML 502s, truncated recursive trees. GitLab: the same race (409),
pagination, HTML 502s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from selfheal.adapters.github import GitHubHost, GitHubRepository, make_client
from selfheal.adapters.gitlab import GitLabHost, GitLabRepository
from selfheal.adapters.gitlab import make_client as gitlab_client
from selfheal.errors import CodeHostForbidden, CodeHostUnavailable, ConfigurationError, SourceNotFound
from selfheal.services.publish import publish_fix
from tests.support.fake_github import FakeGitHub
from tests.support.fake_gitlab import FakeGitLab
from tests.support.git_repos import APP_PY, git, make_bare_repo

FP = "3f9a1c2b7d4e5f60718293a4b5c6d7e8"
BRANCH = "selfheal/3f9a1c2b7d4e"
FIXED = APP_PY + "# fixed\n"


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[FakeGitHub]:
    with FakeGitHub(make_bare_repo(tmp_path / "remote.git", branch="trunk")).serve() as server:
        yield server


@pytest.fixture
def gl(tmp_path: Path) -> Iterator[FakeGitLab]:
    with FakeGitLab(make_bare_repo(tmp_path / "remote.git", branch="trunk")).serve() as server:
        yield server


def _client(gh: FakeGitHub):  # noqa: ANN202
    return make_client("test-token", gh.base_url, throttle=False)


def _host(gh: FakeGitHub, sleeps: list[float] | None = None) -> GitHubHost:
    host = GitHubHost("acme/svc", client=_client(gh))
    host._sleep = (sleeps if sleeps is not None else []).append  # record the waits, do not sleep
    return host


def _publish(host: GitHubHost | GitLabHost, body: str = "b") -> object:
    return publish_fix(host, fingerprint=FP, base_branch="trunk", base_revision=host.resolve("trunk"),
                       files={"app.py": FIXED}, title="fix(selfheal): guard", body=body,
                       labels=["selfheal", "unverified"])


# --- GitHub: replica lag, races, plans ---------------------------------------------------------


def test_no_commits_between_right_after_the_branch_is_retried(gh: FakeGitHub) -> None:
    gh.lag_new_branches(times=2)
    sleeps: list[float] = []
    pr = _publish(_host(gh, sleeps))
    assert pr.created and pr.number == 1 and len(gh.pulls) == 1  # type: ignore[attr-defined]
    assert sleeps == [1.0, 2.0]  # short backoff, inside the step


def test_no_commits_between_that_persists_is_permanent(gh: FakeGitHub) -> None:
    gh.lag_new_branches(times=10)
    sleeps: list[float] = []
    with pytest.raises(CodeHostForbidden, match="No commits between"):
        _publish(_host(gh, sleeps))
    assert sleeps == [1.0, 2.0, 4.0] and gh.pulls == {}


def test_labelling_a_pr_just_opened_is_retried(gh: FakeGitHub) -> None:
    gh.lag_new_pulls(times=1)
    pr = _publish(_host(gh))
    assert pr.labels == ["selfheal", "unverified"] and pr.notes == []  # type: ignore[attr-defined]
    assert gh.pulls[1]["labels"] == ["selfheal", "unverified"]


def test_labels_that_keep_failing_never_fail_the_open_pr(gh: FakeGitHub) -> None:
    gh.lag_new_pulls(times=10)
    pr = _publish(_host(gh))
    assert pr.state == "open" and pr.created and pr.labels == []  # type: ignore[attr-defined]
    assert any("not added" in n and "selfheal" in n for n in pr.notes)  # type: ignore[attr-defined]
    gh.inject(403, "Resource not accessible by integration", method="POST", path=r"/labels$")
    again = _publish(_host(gh), body="second run")
    assert again.number == 1 and not again.created and again.notes  # type: ignore[attr-defined]


def test_a_pr_opened_concurrently_is_adopted(gh: FakeGitHub) -> None:
    gh.race_pull()
    pr = _publish(_host(gh), body="ours")
    assert not pr.created and pr.number == 1 and len(gh.pulls) == 1  # type: ignore[attr-defined]
    assert gh.pulls[1]["body"] == "ours" and gh.pulls[1]["title"] == "fix(selfheal): guard"
    assert gh.pulls[1]["labels"] == ["selfheal", "unverified"]


def test_plans_without_draft_prs_get_a_normal_pr(gh: FakeGitHub) -> None:
    gh.drafts = False
    pr = _publish(_host(gh))
    assert pr.created and not pr.draft and gh.pulls[1]["draft"] is False  # type: ignore[attr-defined]


# --- GitHub: reads -------------------------------------------------------------------------------


def test_large_files_come_through_the_blob_api(gh: FakeGitHub) -> None:
    gh.large_file_bytes = 10  # every file here is "large": contents answers encoding "none"
    repo = GitHubRepository("acme/svc", client=_client(gh))
    assert repo.read_file("app.py", repo.resolve()) == APP_PY
    assert any("/git/blobs/" in path for _, path in gh.requests)


def test_empty_repository_is_source_not_found(tmp_path: Path) -> None:
    fake = FakeGitHub(make_bare_repo(tmp_path / "r.git", branch="trunk"), empty=True)
    with fake.serve() as gh, pytest.raises(SourceNotFound):
        GitHubRepository("acme/svc", client=_client(gh)).resolve("trunk")


def test_private_repository_without_access_is_a_configuration_error(tmp_path: Path) -> None:
    fake = FakeGitHub(make_bare_repo(tmp_path / "r.git", branch="trunk"), visible=False)
    with fake.serve() as gh, pytest.raises(ConfigurationError, match="cannot see it"):
        GitHubRepository("acme/svc", client=_client(gh)).default_branch()


def test_html_502_is_unavailable(gh: FakeGitHub) -> None:
    gh.bad_gateway(path=r"/pulls")
    with pytest.raises(CodeHostUnavailable, match="502") as info:
        _host(gh).find_pull_request("selfheal/abc")
    assert info.value.retryable


def test_file_modes_survive_a_commit_on_a_truncated_tree(gh: FakeGitHub) -> None:
    gh.tree_limit = 1  # the recursive listing stops after "app.py": run.sh (100755) is missing
    host = _host(gh)
    sha = host.commit_branch("selfheal/x", host.resolve("trunk"),
                             {"run.sh": "#!/bin/sh\necho fixed\n", "tests/test_new.py": "x = 1\n"}, "fix")
    assert git(gh.bare, "ls-tree", sha, "run.sh").split()[0] == "100755"
    assert git(gh.bare, "ls-tree", sha, "tests/test_new.py").split()[0] == "100644"
    assert git(gh.bare, "show", f"{sha}:tests/test_app.py")  # untouched files kept


@pytest.mark.parametrize("tarballs", [True, False])
def test_listing_a_truncated_tree(gh: FakeGitHub, tarballs: bool) -> None:
    gh.tree_limit, gh.tarballs = 1, tarballs
    repo = GitHubRepository("acme/svc", client=_client(gh))
    if tarballs:  # the tarball names every file the truncated listing missed
        assert repo.list_files(repo.resolve()) == ["app.py", "run.sh", "tests/test_app.py"]
    else:
        with pytest.raises(SourceNotFound, match="too large"):
            repo.list_files(repo.resolve())


# --- GitLab ------------------------------------------------------------------------------------


def _gl_host(gl: FakeGitLab) -> GitLabHost:
    return GitLabHost("acme/svc", client=gitlab_client("test-token", gl.url))


def test_gitlab_merge_request_opened_concurrently_is_adopted(gl: FakeGitLab) -> None:
    gl.race = 1
    pr = _publish(_gl_host(gl), body="ours")
    assert not pr.created and pr.number == 1 and len(gl.mrs) == 1  # type: ignore[attr-defined]
    assert gl.mrs[1]["description"] == "ours" and gl.mrs[1]["labels"] == ["selfheal", "unverified"]


def test_gitlab_lists_every_page(tmp_path: Path) -> None:
    files = {f"pkg/mod_{i:03d}.py": f"X = {i}\n" for i in range(45)}
    bare = make_bare_repo(tmp_path / "r.git", branch="trunk", files=files)
    with FakeGitLab(bare, per_page=20).serve() as gl:
        repo = GitLabRepository("acme/svc", client=gitlab_client("test-token", gl.url))
        assert sorted(repo.list_files(repo.resolve())) == sorted(files)  # 3 pages of blobs (+ the tree)
        with repo.checkout(repo.resolve()) as tree:
            assert len(list((tree / "pkg").iterdir())) == 45


def test_gitlab_html_502_is_unavailable(gl: FakeGitLab) -> None:
    gl.inject(502, "", {"content-type": "text/html"}, path="/merge_requests",
              body=b"<html><body><h1>502</h1>Whoops, GitLab is taking too much time.</body></html>")
    with pytest.raises(CodeHostUnavailable):
        _gl_host(gl).find_pull_request(BRANCH)
