"""GitHub adapters (PyGithub) against the local fake GitHub backed by a real bare repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from selfheal.adapters.github import GitHubHost, GitHubRepository, classify, make_client
from selfheal.errors import (
    CodeHostAuthFailed,
    CodeHostForbidden,
    CodeHostRateLimited,
    CodeHostUnavailable,
    EditRejected,
    SourceNotFound,
)
from tests.support.fake_github import FakeGitHub
from tests.support.git_repos import APP_PY, git, make_bare_repo

FIXED = APP_PY.replace("return sum(values) / len(values)",
                       "return sum(values) / len(values) if values else 0")


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[FakeGitHub]:
    bare = make_bare_repo(tmp_path / "remote.git", branch="trunk")
    with FakeGitHub(bare).serve() as server:
        yield server


def _client(gh: FakeGitHub, token: str = "test-token"):  # noqa: ANN202
    return make_client(token, gh.base_url, throttle=False)


def _repo(gh: FakeGitHub) -> GitHubRepository:
    return GitHubRepository("acme/svc", client=_client(gh))


def _host(gh: FakeGitHub) -> GitHubHost:
    host = GitHubHost("acme/svc", client=_client(gh))
    host.lag_delays = (0.01, 0.01, 0.01)  # a PR for a missing branch is a 422 retried as lag first
    return host


def test_reads_source_through_the_api(gh: FakeGitHub) -> None:
    repo = _repo(gh)
    assert repo.default_branch() == "trunk"   # discovered, not assumed
    head = repo.resolve()
    assert head == git(gh.bare, "rev-parse", "trunk")
    assert sorted(repo.list_files(head)) == ["app.py", "run.sh", "tests/test_app.py"]
    assert repo.read_file("app.py", head) == APP_PY
    assert repo.read_file("nope.py", head) is None
    assert repo.read_file("tests", head) is None
    with pytest.raises(SourceNotFound):
        repo.resolve("no-such-branch")
    assert gh.archive_downloads == 0


@pytest.mark.parametrize("tarballs", [True, False])
def test_checkout_materialises_the_tree(gh: FakeGitHub, tarballs: bool) -> None:
    gh.tarballs = tarballs   # False: no tarball endpoint, the adapter falls back to blobs
    repo = _repo(gh)
    head = repo.resolve()
    with repo.checkout(head) as tree:
        assert sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file()) == \
            ["app.py", "run.sh", "tests/test_app.py"]
        assert (tree / "app.py").read_text() == APP_PY
        assert (tree / "run.sh").stat().st_mode & 0o100
        assert not (tree / "tests" / "test_app.py").stat().st_mode & 0o100
    assert not tree.exists()
    assert gh.archive_downloads == (1 if tarballs else 0)


def test_commit_branch_with_git_data_api(gh: FakeGitHub) -> None:
    host = _host(gh)
    base = host.resolve("trunk")
    sha = host.commit_branch("selfheal/abc", base, {"app.py": FIXED, "run.sh": "#!/bin/sh\n"}, "fix: guard")
    assert git(gh.bare, "rev-parse", "refs/heads/selfheal/abc") == sha
    assert git(gh.bare, "rev-parse", f"{sha}^") == base
    assert git(gh.bare, "show", f"{sha}:app.py") + "\n" == FIXED
    assert git(gh.bare, "ls-tree", sha, "run.sh").split()[0] == "100755"
    assert git(gh.bare, "show", f"{sha}:tests/test_app.py")   # untouched files kept
    again = host.commit_branch("selfheal/abc", base, {"app.py": FIXED, "run.sh": "#!/bin/sh\n"}, "fix: guard")
    assert again == sha   # no new commit for the same change
    newer = host.commit_branch("selfheal/abc", base, {"app.py": FIXED + "# v2\n"}, "fix: guard")
    assert newer != sha and git(gh.bare, "rev-parse", f"{newer}^") == base   # force-updated, not stacked
    with pytest.raises(EditRejected):
        host.commit_branch("selfheal/abc", base, {"../evil.py": "x"}, "fix")


def test_pull_request_lifecycle(gh: FakeGitHub) -> None:
    host = _host(gh)
    base = host.resolve("trunk")
    with pytest.raises(CodeHostForbidden):   # the fake, like GitHub, needs a real branch
        host.open_pull_request("selfheal/none", "trunk", "t", "b")
    host.commit_branch("selfheal/abc", base, {"app.py": FIXED}, "fix")
    assert host.find_pull_request("selfheal/abc") is None
    pr = host.open_pull_request("selfheal/abc", "trunk", "Fix", "body 1", labels=["selfheal", "bot"])
    assert pr.created and pr.draft and pr.number == 1 and pr.state == "open"
    assert pr.labels == ["selfheal", "bot"] and pr.url.endswith("/acme/svc/pull/1")
    again = host.open_pull_request("selfheal/abc", "trunk", "Fix 2", "body 2", labels=["selfheal"])
    assert not again.created and again.number == 1 and again.title == "Fix 2"
    assert gh.pulls[1]["body"] == "body 2" and len(gh.pulls) == 1
    gh.close_pull(1)
    found = host.find_pull_request("selfheal/abc")
    assert found is not None and found.state == "closed"
    fresh = host.open_pull_request("selfheal/abc", "trunk", "Fix", "body 3")
    assert fresh.created and fresh.number == 2 and gh.pulls[1]["state"] == "closed"
    gh.close_pull(2, merged=True)
    merged = host.find_pull_request("selfheal/abc")
    assert merged is not None and merged.state == "merged" and merged.number == 2


def test_rate_limits_are_retryable_with_wait(gh: FakeGitHub) -> None:
    host = _host(gh)
    gh.inject(429, "Too many requests", {"Retry-After": "7"}, path=r"/commits/")
    with pytest.raises(CodeHostRateLimited) as info:
        host.resolve("trunk")
    assert info.value.retry_after == 7 and info.value.retryable
    gh.inject(403, "API rate limit exceeded for user ID 1.",
              {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9999999999"}, path=r"/pulls")
    with pytest.raises(CodeHostRateLimited) as info:
        host.find_pull_request("selfheal/abc")
    assert info.value.retry_after is not None and info.value.retry_after > 1000
    gh.inject(403, "You have exceeded a secondary rate limit. Please retry your request again later.",
              {"Retry-After": "30"}, method="POST", path=r"/git/blobs")
    with pytest.raises(CodeHostRateLimited):
        host.commit_branch("selfheal/x", host.resolve("trunk"), {"app.py": FIXED}, "fix")
    # once the limit passes, the same call succeeds
    assert host.commit_branch("selfheal/x", host.resolve("trunk"), {"app.py": FIXED}, "fix")


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(gh: FakeGitHub, status: int) -> None:
    gh.inject(status, "Server Error", path=r"/pulls")
    with pytest.raises(CodeHostUnavailable) as info:
        _host(gh).find_pull_request("selfheal/abc")
    assert info.value.retryable


def test_bad_token_is_auth_failure(gh: FakeGitHub) -> None:
    host = GitHubHost("acme/svc", client=_client(gh, token="wrong"))
    with pytest.raises(CodeHostAuthFailed) as info:
        host.resolve("trunk")
    assert not info.value.retryable


def test_protected_branch_and_permission_are_forbidden(gh: FakeGitHub) -> None:
    host = _host(gh)
    base = host.resolve("trunk")
    host.commit_branch("selfheal/p", base, {"app.py": FIXED}, "fix")
    gh.protected.add("selfheal/p")
    with pytest.raises(CodeHostForbidden, match="Protected branch"):
        host.commit_branch("selfheal/p", base, {"app.py": FIXED + "# v2\n"}, "fix")
    gh.inject(403, "Resource not accessible by integration", method="POST", path=r"/git/blobs")
    with pytest.raises(CodeHostForbidden, match="not accessible"):
        host.commit_branch("selfheal/q", base, {"app.py": FIXED}, "fix")


def test_unreachable_server_is_unavailable(gh: FakeGitHub) -> None:
    client = make_client("t", "http://127.0.0.1:9/api/v3", throttle=False, timeout=2)
    with pytest.raises(CodeHostUnavailable):
        GitHubRepository("acme/svc", client=client).default_branch()


def test_classify_non_github_error() -> None:
    assert isinstance(classify(RuntimeError("x"), "op"), CodeHostUnavailable)
