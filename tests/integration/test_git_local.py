"""LocalGitRepository / LocalGitHost against real repositories: a user's working repository
(never disturbed) and a bare remote reached over file://."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from selfheal.adapters.local_git import LocalGitHost, LocalGitRepository
from selfheal.adapters.local_prs import PrRecordStore
from selfheal.errors import CodeHostForbidden, ConfigurationError, EditRejected, SourceNotFound
from tests.support.git_repos import APP_PY, git, make_bare_repo, make_work_repo, snapshot_worktree

FIXED = APP_PY.replace("return sum(values) / len(values)",
                       "return sum(values) / len(values) if values else 0.0")


def test_reads_source_at_revision(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "svc")
    repo = LocalGitRepository(work)
    assert repo.default_branch() == "main"
    head = repo.resolve()
    assert head == git(work, "rev-parse", "HEAD")
    assert sorted(repo.list_files(head)) == ["app.py", "run.sh", "tests/test_app.py"]
    assert repo.read_file("app.py", head) == APP_PY
    assert repo.read_file("missing.py", head) is None
    assert repo.read_file("../etc/passwd", head) is None
    with pytest.raises(SourceNotFound):
        repo.resolve("no-such-branch")


def test_default_branch_is_discovered_not_assumed(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "svc", branch="trunk")
    git(work, "checkout", "-q", "-b", "feature")
    assert LocalGitRepository(work).default_branch() == "feature"  # no main/master/origin HEAD
    git(work, "branch", "-q", "master", "trunk")
    assert LocalGitRepository(work).default_branch() == "master"
    assert LocalGitRepository(work, base_branch="trunk").default_branch() == "trunk"


def test_binary_and_non_utf8_files_read_as_none(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "svc", files={"a.bin": "x", "b.txt": "y"})
    (work / "a.bin").write_bytes(b"\x00\x01\x02")
    (work / "b.txt").write_bytes(b"caf\xe9")
    git(work, "commit", "-q", "-am", "binary")
    repo = LocalGitRepository(work)
    assert repo.read_file("a.bin", "HEAD") is None
    assert repo.read_file("b.txt", "HEAD") is None


def test_checkout_gives_tree_and_cleans_up(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "svc")
    first = git(work, "rev-parse", "HEAD")
    (work / "app.py").write_text("changed later\n")
    git(work, "commit", "-q", "-am", "second")
    before = snapshot_worktree(work)
    repo = LocalGitRepository(work)
    with repo.checkout(first) as tree:
        assert (tree / "app.py").read_text() == APP_PY
        assert (tree / "run.sh").stat().st_mode & 0o111
        kept = tree
    assert not kept.exists()
    assert "selfheal-tree" not in git(work, "worktree", "list")
    assert snapshot_worktree(work) == before


def test_checkout_cleans_up_on_error(tmp_path: Path) -> None:
    repo = LocalGitRepository(make_work_repo(tmp_path / "svc"))
    with pytest.raises(RuntimeError), repo.checkout("main") as tree:
        raise RuntimeError("boom")
    assert not tree.exists()


def test_fix_branch_leaves_user_tree_alone(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "svc")
    git(work, "checkout", "-q", "-b", "my-feature")
    (work / "app.py").write_text(APP_PY + "# uncommitted edit\n")   # dirty tracked file
    (work / "notes.txt").write_text("untracked\n")                  # untracked file
    (work / "run.sh").write_text("#!/bin/sh\necho staged\n")
    git(work, "add", "run.sh")                                      # staged change
    before = snapshot_worktree(work)

    repo = LocalGitRepository(work, base_branch="main")
    host = LocalGitHost(repo, tmp_path / "home")
    base = repo.resolve("main")
    commit = host.commit_branch("selfheal/abc123", base, {"app.py": FIXED}, "fix: guard empty list")

    assert snapshot_worktree(work) == before
    assert git(work, "rev-parse", "refs/heads/selfheal/abc123") == commit
    assert git(work, "rev-parse", f"{commit}^") == base
    assert git(work, "show", f"{commit}:app.py") + "\n" == FIXED
    assert git(work, "show", f"{commit}:run.sh") == "#!/bin/sh\necho hi"   # untouched file kept
    assert git(work, "log", "-1", "--format=%an <%ae>|%s", commit) == \
        "selfheal <selfheal@localhost>|fix: guard empty list"


def test_commit_branch_is_idempotent_and_keeps_modes(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "svc")
    repo = LocalGitRepository(work)
    host = LocalGitHost(repo, tmp_path / "home")
    base = repo.resolve()
    script = "#!/bin/sh\necho fixed\n"
    c1 = host.commit_branch("selfheal/x", base, {"app.py": FIXED, "run.sh": script}, "fix")
    c2 = host.commit_branch("selfheal/x", base, {"app.py": FIXED, "run.sh": script}, "fix")
    assert c1 == c2
    assert git(work, "ls-tree", c1, "run.sh").split()[0] == "100755"
    c3 = host.commit_branch("selfheal/x", base, {"app.py": FIXED + "# v2\n", "run.sh": script}, "fix")
    assert c3 != c1 and git(work, "rev-parse", f"{c3}^") == base   # replaced, not stacked
    new_test = "def test_new():\n    assert True\n"
    c4 = host.commit_branch("selfheal/x", base, {"tests/test_new.py": new_test}, "fix")
    assert git(work, "show", f"{c4}:tests/test_new.py") + "\n" == new_test


def test_commit_branch_rejects_bad_paths_and_checked_out_branch(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "svc")
    repo = LocalGitRepository(work)
    host = LocalGitHost(repo, tmp_path / "home")
    base = repo.resolve()
    for bad in ("../x.py", "/etc/passwd", ".git/config", "a//b.py", "./app.py"):
        with pytest.raises(EditRejected):
            host.commit_branch("selfheal/y", base, {bad: "x"}, "fix")
    with pytest.raises(CodeHostForbidden):
        host.commit_branch("main", base, {"app.py": FIXED}, "fix")
    with pytest.raises(ConfigurationError):
        host.commit_branch("bad..name", base, {"app.py": FIXED}, "fix")
    assert git(work, "rev-parse", "HEAD") == base


def test_pull_request_records(tmp_path: Path) -> None:
    work = make_work_repo(tmp_path / "svc")
    repo = LocalGitRepository(work)
    host = LocalGitHost(repo, tmp_path / "home")
    with pytest.raises(CodeHostForbidden):
        host.open_pull_request("selfheal/none", "main", "t", "b")
    assert host.find_pull_request("selfheal/z") is None
    head = host.commit_branch("selfheal/z", repo.resolve(), {"app.py": FIXED}, "fix")
    pr = host.open_pull_request("selfheal/z", "main", "Fix it", "body 1", labels=["selfheal"])
    assert pr.created and pr.number == 1 and pr.draft and pr.labels == ["selfheal"]
    md = Path(pr.url.removeprefix("file://"))
    assert md.read_text().startswith("# #1 Fix it") and "body 1" in md.read_text()
    again = host.open_pull_request("selfheal/z", "main", "Fix it", "body 2", labels=["bot"])
    assert not again.created and again.number == 1 and again.labels == ["selfheal", "bot"]
    rec = PrRecordStore(tmp_path / "home").get(1)
    assert rec.body == "body 2" and rec.head == head
    PrRecordStore(tmp_path / "home").set_state(1, "closed")
    found = host.find_pull_request("selfheal/z")
    assert found is not None and found.state == "closed"
    reopened = host.open_pull_request("selfheal/z", "main", "Fix it", "body 3")
    assert reopened.created and reopened.number == 2   # a closed record is never reopened
    assert PrRecordStore(tmp_path / "home").get(1).state == "closed"


def test_remote_over_file_url_clone_commit_push(tmp_path: Path) -> None:
    bare = make_bare_repo(tmp_path / "remote.git")
    url = bare.as_uri()
    repo = LocalGitRepository(url, cache_dir=tmp_path / "cache")
    assert repo.default_branch() == "main"
    head = repo.resolve()
    assert head == git(bare, "rev-parse", "main")
    assert repo.read_file("app.py", head) == APP_PY
    host = LocalGitHost(repo, tmp_path / "home")
    commit = host.commit_branch("selfheal/remote1", head, {"app.py": FIXED}, "fix")
    assert git(bare, "rev-parse", "refs/heads/selfheal/remote1") == commit   # pushed
    # A new upstream commit is seen after refresh (fetch), and the cache is reused.
    seed = tmp_path / "remote.git-seed"
    (seed / "app.py").write_text(APP_PY + "# upstream\n")
    git(seed, "commit", "-q", "-am", "upstream")
    git(seed, "push", "-q", str(bare), "main")
    again = LocalGitRepository(url, cache_dir=tmp_path / "cache")
    assert again.resolve() == git(bare, "rev-parse", "main") != head
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_unreachable_file_remote_is_a_clear_error(tmp_path: Path) -> None:
    repo = LocalGitRepository((tmp_path / "nope.git").as_uri(), cache_dir=tmp_path / "cache")
    with pytest.raises(ConfigurationError, match="clone"):
        repo.resolve()


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a git repository"):
        LocalGitRepository(tmp_path)
    assert subprocess.run(["git", "--version"], capture_output=True, check=False).returncode == 0


def test_concurrent_checkouts(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    work = make_work_repo(tmp_path / "svc")
    repo = LocalGitRepository(work)
    head = repo.resolve()

    def one(_: int) -> str:
        with repo.checkout(head) as tree:
            return (tree / "app.py").read_text()

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(one, range(12))) == [APP_PY] * 12
    assert git(work, "worktree", "list").count("\n") == 0   # only the main worktree remains


def test_push_rejected_by_remote_hook_is_forbidden(tmp_path: Path) -> None:
    bare = make_bare_repo(tmp_path / "remote.git")
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch: selfheal/* is locked' >&2\nexit 1\n")
    hook.chmod(0o755)
    repo = LocalGitRepository(bare.as_uri(), cache_dir=tmp_path / "cache")
    host = LocalGitHost(repo, tmp_path / "home")
    with pytest.raises(CodeHostForbidden, match="refused the update"):
        host.commit_branch("selfheal/locked", repo.resolve(), {"app.py": FIXED}, "fix")
    assert "selfheal/locked" not in git(bare, "branch", "--list")
