"""Local git (GitPython + git plumbing): ``SourceRepository`` and ``CodeHost`` adapters.

The repository is a local path, or a remote (``file://``, ``ssh://``, ``user@host:path``) cloned
bare into a cache directory. Fix branches are written with plumbing (a temporary index,
``commit-tree``, ``update-ref``), so the user's working tree, index and checked-out branch are
never touched. The local "pull request" is the branch plus a record under ``<home>/prs/``
(``local_prs``); git runs as a subprocess through ``git_process.run_git``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import string
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

import git as gitpython

from selfheal.adapters.git_process import (
    decode_text,
    foreign_commits_message,
    run_git,
    safe_repo_path,
    scrubbed_env,
)
from selfheal.adapters.local_prs import PrRecord, PrRecordStore
from selfheal.adapters.ssh import SshTransport, is_ssh_url
from selfheal.adapters.worktree_sweep import lock_reason
from selfheal.errors import (
    CodeHostForbidden,
    ConfigurationError,
    EditRejected,
    SourceNotFound,
)
from selfheal.ports import PullRequest

__all__ = ["LocalGitHost", "LocalGitRepository", "foreign_commits_message", "run_git", "safe_repo_path",
           "scrubbed_env"]

_ZERO = "0" * 40
_WORKTREE_LOCKS: dict[str, threading.Lock] = {}
_WORKTREE_LOCKS_GUARD = threading.Lock()


def _is_remote(location: str | Path) -> bool:
    return isinstance(location, str) and (location.startswith("file://") or is_ssh_url(location))


class LocalGitRepository:
    """``SourceRepository`` over a local repository, or a remote cloned bare into ``cache_dir``."""

    def __init__(self, location: str | Path, *, cache_dir: Path | None = None,
                 ssh: SshTransport | None = None, base_branch: str | None = None,
                 timeout: float = 120.0) -> None:
        self.location = location
        self.remote_url: str | None = str(location) if _is_remote(location) else None
        self.ssh = ssh
        self.timeout = timeout
        self._base_branch = base_branch
        self._lock = threading.RLock()
        self._repo: gitpython.Repo | None = None
        if self.remote_url is None:
            path = Path(location).expanduser().resolve()
            try:
                self._repo = gitpython.Repo(path)
            except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError) as exc:
                raise ConfigurationError(f"not a git repository: {path}") from exc
            self.git_dir = Path(self._repo.git_dir)
            self.root = Path(self._repo.working_tree_dir or self._repo.git_dir)
        else:
            if (self.remote_url.startswith("ssh") or is_ssh_url(self.remote_url)) and ssh is None:
                raise ConfigurationError(f"{self.remote_url} is an SSH remote but no SSH transport "
                                         "(key secret and pinned host keys) is configured")
            cache = (cache_dir or Path(".selfheal") / "repos").expanduser().resolve()
            digest = hashlib.sha256(self.remote_url.encode()).hexdigest()[:16]
            self.git_dir = self.root = cache / f"{digest}.git"

    def __repr__(self) -> str:
        return f"LocalGitRepository({str(self.location)!r})"

    # --- running git -------------------------------------------------------------------------

    def git(self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None,
            what: str | None = None) -> bytes:
        """Run a local (non-network) git command in this repository."""
        return run_git(args, cwd=self.root, env=env, input=input, timeout=self.timeout, what=what)

    def network(self, *args: str, cwd: Path | None = None, what: str) -> bytes:
        """Run a git command that talks to the remote (SSH environment when needed)."""
        with ExitStack() as stack:
            env: dict[str, str] = {}
            if self.ssh is not None:
                env = stack.enter_context(self.ssh.environment())
            return run_git(args, cwd=cwd or self.root, env=env, timeout=self.timeout, what=what,
                           network=True)

    def _gitpython(self) -> gitpython.Repo:
        if self._repo is None:
            self.refresh()
        assert self._repo is not None
        return self._repo

    def refresh(self) -> None:
        """Clone the remote into the cache, or fetch every branch into it (remotes only)."""
        if self.remote_url is None:
            return
        with self._lock:
            if not (self.git_dir / "HEAD").is_file():
                self.git_dir.parent.mkdir(parents=True, exist_ok=True)
                tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=self.git_dir.parent))
                try:
                    self.network("clone", "--bare", "--quiet", "--", self.remote_url, str(tmp / "r.git"),
                                 cwd=self.git_dir.parent, what=f"clone {self.remote_url}")
                    try:
                        (tmp / "r.git").rename(self.git_dir)
                    except OSError:
                        if not (self.git_dir / "HEAD").is_file():
                            raise
                        # another worker finished the same clone first: use theirs
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
            else:
                self.network("fetch", "--quiet", "--prune", "--force", "origin",
                             "+refs/heads/*:refs/heads/*", what=f"fetch {self.remote_url}")
                out = self.network("ls-remote", "--symref", "origin", "HEAD", what="ls-remote")
                for line in out.decode().splitlines():
                    if line.startswith("ref: ") and line.endswith("\tHEAD"):
                        self.git("symbolic-ref", "HEAD", line[5:].split("\t")[0])
            if self._repo is None:
                self._repo = gitpython.Repo(self.git_dir)

    def _ensure(self) -> None:
        if self._repo is None:
            self.refresh()

    # --- SourceRepository --------------------------------------------------------------------

    def default_branch(self) -> str:
        self._ensure()
        if self._base_branch:
            return self._base_branch
        origin_head = self.git_or_none("symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD")
        if origin_head and self.remote_url is None:
            name = origin_head.split("/", 1)[-1]
            if self.git_or_none("rev-parse", "--verify", "-q", f"refs/heads/{name}"):
                return name
        if self.remote_url is None:
            for name in ("main", "master"):
                if self.git_or_none("rev-parse", "--verify", "-q", f"refs/heads/{name}"):
                    return name
        head = self.git_or_none("symbolic-ref", "-q", "--short", "HEAD")
        if head:
            return head
        raise ConfigurationError(f"cannot tell the default branch of {self}; set base_branch")

    def git_or_none(self, *args: str) -> str | None:
        """Stripped output of a local git command, or None when it fails or prints nothing."""
        try:
            return self.git(*args).decode().strip() or None
        except ConfigurationError:
            return None

    def resolve(self, ref: str | None = None) -> str:
        self._ensure()
        name = ref or self.default_branch()
        if name.startswith("-"):
            raise SourceNotFound(f"invalid revision {name!r}")
        sha = self.git_or_none("rev-parse", "--verify", "-q", f"{name}^{{commit}}")
        if not sha:
            raise SourceNotFound(f"no commit {name!r} in {self}")
        return sha

    def list_files(self, revision: str) -> list[str]:
        sha = self.resolve(revision)
        out = self.git("ls-tree", "-r", "-z", "--name-only", "--full-tree", sha)
        return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]

    def read_file(self, path: str, revision: str) -> str | None:
        sha = self.resolve(revision)
        try:
            safe_repo_path(path)
        except EditRejected:
            return None
        with self._lock:
            try:
                obj = self._gitpython().commit(sha).tree / path
            except KeyError:
                return None
            if not isinstance(obj, gitpython.Blob):
                return None
            data = obj.data_stream.read()
        return decode_text(data)

    def checkout(self, revision: str) -> AbstractContextManager[Path]:
        return self._checkout(self.resolve(revision))

    @contextmanager
    def _checkout(self, sha: str) -> Iterator[Path]:
        # A detached temporary worktree: fast (no copy of history) and leaves HEAD alone.
        tmp = Path(tempfile.mkdtemp(prefix="selfheal-tree-"))
        # A unique basename: git names the worktree's admin directory after it.
        tree = tmp / f"src-{tmp.name.rsplit('-', 1)[-1]}"
        try:
            with self._worktree_lock():
                # Locked with our pid: a sweep removes it only once this process is gone.
                self.git("worktree", "add", "--detach", "--quiet", "--lock", "--reason",
                         lock_reason(os.getpid()), str(tree), sha, what="worktree add")
            yield tree
        finally:
            with self._worktree_lock():
                try:
                    self.git("worktree", "remove", "--force", "--force", str(tree), what="worktree remove")
                except ConfigurationError:
                    shutil.rmtree(tmp, ignore_errors=True)
                    self.git_or_none("worktree", "prune")
            shutil.rmtree(tmp, ignore_errors=True)

    @contextmanager
    def _worktree_lock(self) -> Iterator[None]:
        """Serialise worktree bookkeeping on this repository across threads and processes: git
        reads every worktree's admin directory while adding one, and fails on a half-made one."""
        key = str(self.git_dir.resolve())
        with _WORKTREE_LOCKS_GUARD:
            lock = _WORKTREE_LOCKS.setdefault(key, threading.Lock())
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        lock_path = Path(tempfile.gettempdir()) / f"selfheal-wt-{digest}.lock"
        with lock, lock_path.open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def checked_out_branches(self) -> set[str]:
        """Branch refs checked out in any worktree of this repository."""
        out = self.git("worktree", "list", "--porcelain").decode()
        return {ln.split(" ", 1)[1] for ln in out.splitlines() if ln.startswith("branch ")}


class LocalGitHost:
    """``CodeHost`` that writes branches into a ``LocalGitRepository`` and PR records to ``home``.

    ``push_remote``: a remote name or URL to push fix branches to; by default a cloned remote
    is pushed back to its URL and a local repository is not pushed anywhere.
    """

    def __init__(self, repository: LocalGitRepository, home: Path, *, push_remote: str | None = None,
                 author_name: str = "selfheal", author_email: str = "selfheal@localhost") -> None:
        self.repository = repository
        self.records = PrRecordStore(home, repository=str(repository.location))
        self.push_remote = push_remote or repository.remote_url
        self._author = {"GIT_AUTHOR_NAME": author_name, "GIT_AUTHOR_EMAIL": author_email,
                        "GIT_COMMITTER_NAME": author_name, "GIT_COMMITTER_EMAIL": author_email}

    def commit_branch(self, branch: str, base_revision: str, files: dict[str, str], message: str) -> str:
        repo = self.repository
        ref = self._branch_ref(branch)
        if not files:
            raise EditRejected("no files to commit")
        if repo.remote_url is not None:
            repo.refresh()  # see the remote's branches as they are now, not as first fetched
        base = repo.resolve(base_revision)
        tree = self._write_tree(base, files)
        if ref in repo.checked_out_branches():
            raise CodeHostForbidden(f"branch {branch!r} is checked out in a working tree; "
                                    "selfheal will not move it under your feet")
        old = repo.git_or_none("rev-parse", "--verify", "-q", ref)
        commit = old if old and self._same_commit(old, base, tree) else None
        if commit is None:
            if old and not self._replaceable(old, base):
                raise CodeHostForbidden(foreign_commits_message(branch))
            commit = repo.git("commit-tree", tree, "-p", base, input=message.encode("utf-8"),
                              env=self._author, what="commit-tree").decode().strip()
            repo.git("update-ref", "-m", "selfheal: fix branch", ref, commit, old or _ZERO,
                     what="update-ref")
        if self.push_remote:
            # Against our clone's origin the lease is exact: the remote must still hold what we
            # fetched a moment ago, so a concurrent push is refused rather than overwritten.
            exact = repo.remote_url is not None and self.push_remote == repo.remote_url
            lease = f"--force-with-lease={ref}:{old or ''}" if exact else "--force"
            repo.network("push", "--quiet", "--porcelain", lease, self.push_remote, f"{ref}:{ref}",
                         what=f"push {branch}")
        return commit

    def _replaceable(self, tip: str, base: str) -> bool:
        """True when ``tip`` is one commit on a commit of the base line (an earlier run's fix);
        False when someone added commits (or a merge) on top, which must not be lost."""
        parents = self._parents(tip)
        if len(parents) != 1:
            return False
        try:
            self.repository.git("merge-base", "--is-ancestor", parents[0], base)
        except ConfigurationError:
            return False
        return True

    def _parents(self, commit: str) -> list[str]:
        info = self.repository.git("cat-file", "commit", commit).decode("utf-8", "replace")
        return [ln.split()[1] for ln in info.split("\n\n", 1)[0].splitlines() if ln.startswith("parent ")]

    def _branch_ref(self, branch: str) -> str:
        try:
            self.repository.git("check-ref-format", f"refs/heads/{branch}")
        except ConfigurationError as exc:
            raise ConfigurationError(f"invalid branch name {branch!r}") from exc
        return f"refs/heads/{branch}"

    def _write_tree(self, base: str, files: dict[str, str]) -> str:
        repo = self.repository
        with tempfile.TemporaryDirectory(prefix="selfheal-index-") as td:
            env = {"GIT_INDEX_FILE": str(Path(td) / "index")}
            repo.git("read-tree", base, env=env, what="read-tree")
            for path in sorted(files):
                safe_repo_path(path)
                listed = repo.git("ls-tree", base, "--", path).decode().split()
                mode = listed[0] if listed else "100644"
                if mode not in ("100644", "100755"):
                    raise EditRejected(f"{path} is not a regular file in the repository (mode {mode})")
                blob = repo.git("hash-object", "-w", "--stdin", input=files[path].encode("utf-8"),
                                what="hash-object").decode().strip()
                repo.git("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}", env=env,
                         what="update-index")
            return repo.git("write-tree", env=env, what="write-tree").decode().strip()

    def _same_commit(self, commit: str, base: str, tree: str) -> bool:
        info = self.repository.git("cat-file", "commit", commit).decode("utf-8", "replace")
        header = info.split("\n\n", 1)[0].splitlines()
        return f"tree {tree}" in header and self._parents(commit) == [base]

    def find_pull_request(self, branch: str) -> PullRequest | None:
        rec = self.records.newest_for_branch(branch)
        return self._settle(rec).to_pull_request() if rec else None

    def _settle(self, rec: PrRecord) -> PrRecord:
        """An open record whose fix is already in its base branch was merged (by a person, with
        plain git): record that, so the next publish opens a new PR instead of updating it."""
        if rec.state != "open" or not self.is_merged(rec):
            return rec
        return self.records.set_state(rec.number, "merged")

    def is_merged(self, rec: PrRecord) -> bool:
        """True when the PR's head commit is in its base branch: an ancestor of the base head
        (merge commit or fast-forward), or patch-equivalent to commits on it (rebase, or a
        squash of the one-commit fix branch). A head that cannot be read is not merged."""
        repo = self.repository
        if repo.remote_url is not None:
            repo.refresh()  # the merge happened on the remote
        head = rec.head or repo.git_or_none("rev-parse", "--verify", "-q", f"refs/heads/{rec.branch}")
        base = repo.git_or_none("rev-parse", "--verify", "-q", f"refs/heads/{rec.base}^{{commit}}")
        if not head or not base or not all(c in string.hexdigits for c in head):
            return False  # a hand-edited record's head is never passed to git as an option
        try:
            repo.git("merge-base", "--is-ancestor", head, base, what="merge-base")
            return True
        except ConfigurationError:
            pass  # not an ancestor (exit 1) or an unknown commit: look for an equivalent patch
        lines = (repo.git_or_none("cherry", base, head) or "").splitlines()
        return bool(lines) and all(ln.startswith("- ") for ln in lines)

    def open_pull_request(self, branch: str, base: str, title: str, body: str,
                          labels: Sequence[str] = (), draft: bool = True) -> PullRequest:
        head = self.repository.git_or_none("rev-parse", "--verify", "-q", f"refs/heads/{branch}")
        if not head:
            raise CodeHostForbidden(f"cannot open a pull request: branch {branch!r} does not exist")
        self.repository.resolve(base)
        still_open = self.records.newest_for_branch(branch, state="open")
        if still_open is not None:
            self._settle(still_open)  # a merged PR is not updated: the new fix gets a new one
        return self.records.open(branch=branch, base=base, title=title, body=body, labels=list(labels),
                                 draft=draft, head=head)
