"""The SourceRepository and CodeHost contracts, run against every adapter: a local repository,
a file:// remote, an SSH remote (local sshd), GitHub and GitLab (fake servers over a bare
repository)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from selfheal.adapters import gitlab as gitlab_adapter
from selfheal.adapters.github import GitHubHost, GitHubRepository, make_client
from selfheal.adapters.local_git import LocalGitHost, LocalGitRepository
from selfheal.adapters.secrets_env import EnvSecrets
from selfheal.adapters.ssh import SshTransport
from selfheal.errors import CodeHostForbidden
from selfheal.ports import CodeHost, SourceRepository
from tests.support.fake_github import FakeGitHub
from tests.support.fake_gitlab import FakeGitLab
from tests.support.git_repos import APP_PY, TEST_PY, git, make_bare_repo, make_work_repo
from tests.support.sshd import SshServer, sshd_server

__all__ = ["sshd_server"]


@dataclass
class Backend:
    source: SourceRepository
    host: CodeHost
    branch_tip: Callable[[str], str | None]   # what the server really holds
    close: Callable[[int], None]
    server_dir: Path                            # the repository the server serves


def _tip(repo_dir: Path) -> Callable[[str], str | None]:
    def tip(branch: str) -> str | None:
        out = git(repo_dir, "for-each-ref", "--format=%(objectname)", f"refs/heads/{branch}")
        return out or None
    return tip


def _closer(host: LocalGitHost) -> Callable[[int], None]:
    def close(number: int) -> None:
        host.records.set_state(number, "closed")
    return close


@pytest.fixture(params=["local", "file", "ssh", "github", "gitlab"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    kind = request.param
    home = tmp_path / "home"
    if kind == "local":
        work = make_work_repo(tmp_path / "svc", branch="trunk")
        repo = LocalGitRepository(work)
        local = LocalGitHost(repo, home)
        yield Backend(repo, local, _tip(work), _closer(local), work)
        return
    bare = make_bare_repo(tmp_path / "remote.git", branch="trunk")
    if kind in ("file", "ssh"):
        if kind == "ssh":
            server: SshServer = request.getfixturevalue("sshd_server")
            secrets = EnvSecrets(env={"SELFHEAL_SECRET_K": server.client_key})
            repo = LocalGitRepository(server.url(bare), cache_dir=tmp_path / "cache",
                                      ssh=SshTransport(secrets, "k", [server.known_hosts_line]))
        else:
            repo = LocalGitRepository(bare.as_uri(), cache_dir=tmp_path / "cache")
        local = LocalGitHost(repo, home)
        yield Backend(repo, local, _tip(bare), _closer(local), bare)
        return
    if kind == "gitlab":
        with FakeGitLab(bare).serve() as gl:
            glc = gitlab_adapter.make_client("test-token", gl.url)
            yield Backend(gitlab_adapter.GitLabRepository("acme/svc", client=glc),
                          gitlab_adapter.GitLabHost("acme/svc", client=glc), _tip(bare), gl.close_mr, bare)
        return
    with FakeGitHub(bare).serve() as gh:
        client = make_client("test-token", gh.base_url, throttle=False)
        yield Backend(GitHubRepository("acme/svc", client=client), GitHubHost("acme/svc", client=client),
                      _tip(bare), gh.close_pull, bare)


def test_source_contract(backend: Backend) -> None:
    src = backend.source
    assert src.default_branch() == "trunk"
    head = src.resolve()
    assert head == src.resolve("trunk") == backend.branch_tip("trunk")
    assert sorted(src.list_files(head)) == ["app.py", "run.sh", "tests/test_app.py"]
    assert src.read_file("tests/test_app.py", head) == TEST_PY
    assert src.read_file("absent.py", head) is None
    with src.checkout(head) as tree:
        assert (tree / "app.py").read_text() == APP_PY
    assert not tree.exists()


def test_source_contract_holds_for_the_stored_tree(backend: Backend) -> None:
    """What AWS's ValidatePatch reads instead of the code host (FetchSource stores it): the same
    contract, from a snapshot of each backend's tree."""
    from selfheal.adapters.tree_snapshot import SnapshotSource, snapshot_tree

    head = backend.source.resolve()
    src = SnapshotSource(snapshot_tree(backend.source, head), head, backend.source.default_branch())
    assert src.default_branch() == "trunk" and src.resolve() == head
    assert sorted(src.list_files(head)) == ["app.py", "run.sh", "tests/test_app.py"]
    assert src.read_file("tests/test_app.py", head) == TEST_PY
    assert src.read_file("absent.py", head) is None
    with src.checkout(head) as tree:
        assert (tree / "app.py").read_text() == APP_PY
        with backend.source.checkout(head) as original:
            mode = (original / "run.sh").stat().st_mode & 0o111
            assert (tree / "run.sh").stat().st_mode & 0o111 == mode
    assert not tree.exists()


def test_code_host_contract(backend: Backend) -> None:
    host, base = backend.host, backend.source.resolve()
    c1 = host.commit_branch("selfheal/feedc0ffee12", base, {"app.py": APP_PY + "# fix\n"}, "fix")
    assert backend.branch_tip("selfheal/feedc0ffee12") == c1
    assert host.commit_branch("selfheal/feedc0ffee12", base, {"app.py": APP_PY + "# fix\n"}, "fix") == c1
    c2 = host.commit_branch("selfheal/feedc0ffee12", base, {"app.py": APP_PY + "# fix 2\n"}, "fix")
    assert c2 != c1 and backend.branch_tip("selfheal/feedc0ffee12") == c2
    assert host.find_pull_request("selfheal/feedc0ffee12") is None
    pr = host.open_pull_request("selfheal/feedc0ffee12", "trunk", "Fix", "one", labels=["selfheal"])
    assert pr.created and pr.state == "open" and pr.draft and pr.base == "trunk" and "selfheal" in pr.labels
    same = host.open_pull_request("selfheal/feedc0ffee12", "trunk", "Fix", "two", labels=["selfheal"])
    assert not same.created and same.number == pr.number and same.url == pr.url
    assert pr.number is not None
    backend.close(pr.number)
    closed = host.find_pull_request("selfheal/feedc0ffee12")
    assert closed is not None and closed.state == "closed" and closed.number == pr.number
    new = host.open_pull_request("selfheal/feedc0ffee12", "trunk", "Fix", "three")
    assert new.created and new.number != pr.number
    newest = host.find_pull_request("selfheal/feedc0ffee12")
    assert newest is not None and newest.number == new.number and newest.state == "open"


def test_commits_selfheal_did_not_make_are_never_overwritten(backend: Backend) -> None:
    host, base = backend.host, backend.source.resolve()
    ours = host.commit_branch("selfheal/0123456789ab", base, {"app.py": APP_PY + "# fix\n"}, "fix")
    # A reviewer pushes a commit on top of the fix branch, on the server.
    tree = git(backend.server_dir, "rev-parse", f"{ours}^{{tree}}")
    theirs = git(backend.server_dir, "commit-tree", tree, "-p", ours, "-m", "reviewer tweak")
    git(backend.server_dir, "update-ref", "refs/heads/selfheal/0123456789ab", theirs)
    with pytest.raises(CodeHostForbidden, match="did not make"):
        host.commit_branch("selfheal/0123456789ab", base, {"app.py": APP_PY + "# fix 2\n"}, "fix")
    assert backend.branch_tip("selfheal/0123456789ab") == theirs
