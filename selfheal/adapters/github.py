"""GitHub (PyGithub): ``SourceRepository`` through the contents/Git Data API and ``CodeHost``
through blobs, trees, commits and refs, so no ``git`` binary is needed (Lambda has none).

Works against github.com and GitHub Enterprise (``base_url=https://host/api/v3``). HTTP
failures become errors named by condition (``github_client.classify``: rate limits carry GitHub's
wait). GitHub's replicas lag a moment behind writes: a 422 when opening a PR for a branch just
written, or labelling a PR just opened, is retried a few times with short backoff here; a PR a
concurrent run opened first is adopted; a label that cannot be added never fails an open PR.
"""

from __future__ import annotations

import base64
import logging
import re
import shutil
import tarfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

import requests
from github import Github, GithubException, InputGitTreeElement
from github.PullRequest import PullRequest as GhPullRequest
from github.Repository import Repository

from selfheal.adapters.codehost_common import (
    REGULAR_MODES,
    HostApiCalls,
    check_commit_files,
    readable_path,
    temporary_tree,
    write_blob,
)
from selfheal.adapters.git_process import decode_text
from selfheal.adapters.github_client import SECONDARY_LIMIT_WAIT_S as SECONDARY_LIMIT_WAIT_S
from selfheal.adapters.github_client import classify as classify
from selfheal.adapters.github_client import make_client as make_client
from selfheal.adapters.github_client import rate_limit_wait as rate_limit_wait
from selfheal.adapters.local_git import foreign_commits_message, safe_repo_path
from selfheal.errors import (
    CodeHostForbidden,
    ConfigurationError,
    EditRejected,
    SelfhealError,
    SourceNotFound,
)
from selfheal.ports import PullRequest

_SHA = re.compile(r"^[0-9a-f]{40}$")
log = logging.getLogger(__name__)


class _GitHubBase(HostApiCalls):
    _host_error: ClassVar[type[Exception]] = GithubException
    # Waits before retrying a write GitHub's replicas have not caught up with (seconds, ~7 s in all).
    lag_delays: tuple[float, ...] = (1.0, 2.0, 4.0)
    _sleep = staticmethod(time.sleep)

    def __init__(self, full_name: str, *, token: str | None = None, base_url: str | None = None,
                 client: Github | None = None, base_branch: str | None = None) -> None:
        if full_name.count("/") != 1:
            raise ConfigurationError(f"GitHub repository must be 'owner/name', got {full_name!r}")
        self.full_name = full_name
        self._token, self._base_url = token, base_url
        self._client = client
        self._base_branch = base_branch
        self._repo_obj: Repository | None = None
        self._lock = threading.Lock()

    def _status(self, exc: Exception) -> int | None:
        return exc.status if isinstance(exc, GithubException) else None

    def _classify(self, exc: Exception, what: str) -> SelfhealError:
        return classify(exc, what)

    def repo(self) -> Repository:
        """The PyGithub repository (fetched once)."""
        with self._lock:
            if self._repo_obj is None:
                if self._client is None:
                    self._client = make_client(self._token, self._base_url, throttle=False)
                self._repo_obj = self._call(f"open {self.full_name}", self._client.get_repo, self.full_name)
            assert self._repo_obj is not None
            return self._repo_obj

    def default_branch(self) -> str:
        """The repository's default branch as GitHub reports it (or the configured base)."""
        return self._base_branch or str(self._call("default branch", lambda: self.repo().default_branch))

    def resolve(self, ref: str | None = None) -> str:
        name = ref or self.default_branch()
        # 409: GitHub's answer for a repository without commits ("Git Repository is empty.")
        commit = self._find(f"resolve {name}", self.repo().get_commit, name, missing=(404, 409, 422))
        if commit is None:
            raise SourceNotFound(f"no commit {name!r} in {self.full_name}")
        return str(commit.sha)


class GitHubRepository(_GitHubBase):
    """``SourceRepository`` over the GitHub API at a commit. ``checkout`` downloads the tarball
    (one request), falling back to one blob request per file."""

    archive_timeout = 60

    def _tree(self, revision: str) -> list[Any]:
        sha = self.resolve(revision)
        tree = self._call("read tree", self.repo().get_git_tree, sha, recursive=True)
        if tree.raw_data.get("truncated"):
            raise SourceNotFound(f"{self.full_name} is too large to list through the API at {sha[:12]}")
        return list(tree.tree)

    def list_files(self, revision: str) -> list[str]:
        sha = self.resolve(revision)
        tree = self._call("read tree", self.repo().get_git_tree, sha, recursive=True)
        if not tree.raw_data.get("truncated"):
            return [e.path for e in tree.tree if e.type == "blob"]
        # GitHub truncates recursive listings of large trees; the tarball names every file.
        with temporary_tree("selfheal-gh-list-") as root:
            if not self._from_tarball(sha, root):
                raise SourceNotFound(f"{self.full_name} is too large to list through the API at {sha[:12]}")
            return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def read_file(self, path: str, revision: str) -> str | None:
        if not readable_path(path):
            return None
        sha = self.resolve(revision)
        content = self._find(f"read {path}", self.repo().get_contents, path, ref=sha)
        if content is None or isinstance(content, list) or content.type != "file":
            return None
        data = content.decoded_content if content.content else self._blob(content.sha)
        return decode_text(data)

    def _blob(self, sha: str) -> bytes:
        blob = self._call("read blob", self.repo().get_git_blob, sha)
        return base64.b64decode(blob.content) if blob.encoding == "base64" else str(blob.content).encode()

    def checkout(self, revision: str) -> AbstractContextManager[Path]:
        return self._checkout(revision)

    @contextmanager
    def _checkout(self, revision: str) -> Iterator[Path]:
        sha = self.resolve(revision)
        with temporary_tree("selfheal-gh-tree-") as root:
            if not self._from_tarball(sha, root):
                self._from_blobs(sha, root)
            yield root

    def _from_tarball(self, sha: str, root: Path) -> bool:
        """One download of the tarball (fast); False when the host does not offer it."""
        try:
            link = self.repo().get_archive_link("tarball", sha)
            resp = requests.get(link, stream=True, timeout=self.archive_timeout)
        except (GithubException, requests.exceptions.RequestException, KeyError):
            return False
        with resp:
            if resp.status_code != 200:
                return False
            try:
                with tarfile.open(fileobj=resp.raw, mode="r|gz") as tar:
                    for member in tar:
                        _extract_member(tar, member, root)
            except (tarfile.TarError, OSError, EOFError):
                shutil.rmtree(root, ignore_errors=True)
                root.mkdir()
                return False
        return True

    def _from_blobs(self, sha: str, root: Path) -> None:
        for e in self._tree(sha):
            if e.type == "blob" and e.mode in REGULAR_MODES:  # submodules and symlinks are not materialised
                write_blob(root, e.path, e.mode, self._blob(e.sha))


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, root: Path) -> None:
    """Write one regular file of a GitHub tarball (``<owner>-<repo>-<sha>/path``) under ``root``."""
    parts = member.name.split("/", 1)
    if len(parts) < 2 or not parts[1] or not member.isfile():
        return  # the top directory, directories (made on demand), symlinks, devices
    try:
        rel = safe_repo_path(parts[1].rstrip("/"))
    except EditRejected:
        return
    src = tar.extractfile(member)
    if src is None:
        return
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    with src, target.open("wb") as out:
        shutil.copyfileobj(src, out)
    if member.mode & 0o100:
        target.chmod(0o755)


class GitHubHost(_GitHubBase):
    """``CodeHost`` over the GitHub Git Data and Pulls APIs."""

    def commit_branch(self, branch: str, base_revision: str, files: dict[str, str], message: str) -> str:
        if not files:
            raise EditRejected("no files to commit")
        repo = self.repo()
        base_sha = base_revision if _SHA.match(base_revision) else self.resolve(base_revision)
        base = self._call("read base commit", repo.get_git_commit, base_sha)
        modes = self._modes(base.tree.sha, sorted(files))
        check_commit_files(files, modes)  # all of them before the first blob is written
        elements = []
        for path in sorted(files):
            blob = self._call(f"write blob {path}", repo.create_git_blob, files[path], "utf-8")
            elements.append(InputGitTreeElement(path, modes.get(path, "100644"), "blob", sha=blob.sha))
        tree = self._call("write tree", repo.create_git_tree, elements, base.tree)
        ref = self._get_ref(branch)
        if ref is not None:
            head = self._call("read branch head", repo.get_git_commit, ref.object.sha)
            parents = [p.sha for p in head.parents]
            if head.tree.sha == tree.sha and parents == [base.sha]:
                return str(head.sha)  # same change on the same base: nothing to do
            if len(parents) != 1 or not self._is_ancestor(parents[0], base.sha):
                raise CodeHostForbidden(foreign_commits_message(branch))
        commit = self._call("write commit", repo.create_git_commit, message, tree, [base])
        if ref is None:
            try:
                repo.create_git_ref(f"refs/heads/{branch}", commit.sha)
                return str(commit.sha)
            except GithubException as exc:
                if exc.status != 422:
                    raise classify(exc, f"create branch {branch}") from exc
                ref = self._get_ref(branch)  # created concurrently: move it below
                if ref is None:
                    raise classify(exc, f"create branch {branch}") from exc
            except requests.exceptions.RequestException as exc:
                raise classify(exc, f"create branch {branch}") from exc
        self._call(f"update branch {branch}", ref.edit, commit.sha, force=True)
        return str(commit.sha)

    def _modes(self, tree_sha: str, paths: list[str]) -> dict[str, str]:
        """path -> git mode at the base, for at least ``paths``. A recursive listing that GitHub
        truncated (large trees) misses entries, and a missing path would be written as 100644
        (an executable losing its bit): then each path is looked up directory by directory."""
        repo = self.repo()
        tree = self._call("read base tree", repo.get_git_tree, tree_sha, recursive=True)
        modes = {e.path: e.mode for e in tree.tree}
        if not tree.raw_data.get("truncated"):
            return modes
        listings: dict[str, dict[str, Any]] = {}

        def entries(sha: str) -> dict[str, Any]:
            if sha not in listings:
                listing = self._call("read tree", repo.get_git_tree, sha)
                listings[sha] = {e.path: e for e in listing.tree}
            return listings[sha]

        for path in paths:
            sha, parts = tree_sha, path.split("/")
            for i, part in enumerate(parts):
                entry = entries(sha).get(part)
                if entry is None:
                    modes.pop(path, None)  # a new file
                    break
                if i == len(parts) - 1 or entry.type != "tree":
                    modes[path] = entry.mode  # the file, or a non-directory in the way
                    break
                sha = entry.sha
        return modes

    def _is_ancestor(self, older: str, newer: str) -> bool:
        if older == newer:
            return True
        comparison = self._call("compare commits", self.repo().compare, older, newer)
        return str(self._call("compare commits", lambda: comparison.status)) in ("ahead", "identical")

    def _get_ref(self, branch: str) -> Any:
        def loaded() -> Any:
            ref = self.repo().get_git_ref(f"heads/{branch}")
            _ = ref.object  # lazy object: force the GET so a missing ref raises here
            return ref

        return self._find(f"read branch {branch}", loaded)

    def _pulls(self, branch: str, state: str) -> list[GhPullRequest]:
        repo = self.repo()
        owner = self._call("read owner", lambda: repo.owner.login)
        pulls = self._call("list pull requests", repo.get_pulls, state=state, head=f"{owner}:{branch}",
                           sort="created", direction="desc")
        return self._call("list pull requests", lambda: [p for _, p in zip(range(20), pulls, strict=False)])

    def find_pull_request(self, branch: str) -> PullRequest | None:
        pulls = self._pulls(branch, "all")
        newest = max(pulls, key=lambda p: p.number, default=None)
        return _to_port(newest, created=False) if newest is not None else None

    def open_pull_request(self, branch: str, base: str, title: str, body: str,
                          labels: Sequence[str] = (), draft: bool = True) -> PullRequest:
        open_prs = self._pulls(branch, "open")
        if open_prs:
            pr, created = open_prs[0], False
        else:
            pr, created = self._create(branch, base, title, body, draft)
        if not created:
            self._refresh(pr, title, body)
        pr, notes = self._label(pr, labels)
        return _to_port(pr, created=created).model_copy(update={"notes": notes})

    def _refresh(self, pr: GhPullRequest, title: str, body: str) -> None:
        """Point an existing open PR's title and body at this run's fix."""
        changed = (pr.body or "") != body
        self._call("update pull request", pr.edit, title=title, body=body)
        if changed:
            # Editing a body notifies nobody; a comment tells reviewers the fix was redone.
            head = str(pr.head.sha or "")[:12]
            self._call("comment on pull request", pr.create_issue_comment,
                       f"selfheal regenerated this fix (head `{head}`); the description is updated.")

    def _label(self, pr: GhPullRequest, labels: Sequence[str]) -> tuple[GhPullRequest, list[str]]:
        """Add the missing ``labels``. GitHub may not resolve a PR opened a moment ago (422 "Could
        not resolve to a node"): retried with short backoff. The PR is open whatever happens here,
        so a label that still fails is logged and noted, never raised."""
        missing = [lb for lb in labels if lb not in {x.name for x in pr.labels}]
        if not missing:
            return pr, []
        try:
            self._lagging(f"label pull request #{pr.number}", lambda: pr.add_to_labels(*missing))
            return self._call("read pull request", self.repo().get_pull, pr.number), []
        except SelfhealError as exc:
            log.warning("pull request #%s is open but not labelled %s: %s", pr.number, missing, exc)
            return pr, [f"labels {', '.join(missing)} not added: {type(exc).__name__}: {exc}"]

    def _create(self, branch: str, base: str, title: str, body: str,
                draft: bool) -> tuple[GhPullRequest, bool]:
        """Open the PR: (pr, True); or (pr, False) when a concurrent run opened it first (422 "A
        pull request already exists": adopted). A 422 right after the branch was written ("No
        commits between", GitHub's PR service lagging behind the new ref) is retried with short
        backoff before it counts; a plan without draft PRs gets a normal one (the body says
        unverified)."""
        repo = self.repo()
        what = f"open pull request from {branch}"

        def create() -> GhPullRequest:
            nonlocal draft
            try:
                return repo.create_pull(base=base, head=branch, title=title, body=body, draft=draft)
            except GithubException as exc:
                if exc.status == 422 and draft and "draft" in str(exc.data).lower():
                    draft = False
                    return repo.create_pull(base=base, head=branch, title=title, body=body, draft=False)
                raise

        adopted: list[GhPullRequest] = []

        def adopt(exc: GithubException) -> bool:
            # Whatever the 422 says, an open PR from the branch now means someone opened it.
            adopted.extend(self._pulls(branch, "open")[:1])
            return bool(adopted)

        pr = self._lagging(what, create, give_up=adopt)
        return (adopted[0], False) if pr is None else (pr, True)

    def _lagging(self, what: str, fn: Any, give_up: Any = None) -> Any:
        """``fn()``, retrying a 422 after each of ``lag_delays`` (GitHub's replicas catch up within
        seconds); ``give_up(exc)`` true ends the retries with None. Other failures raise at once."""
        for delay in (*self.lag_delays, None):
            try:
                return fn()
            except GithubException as exc:
                if exc.status != 422:
                    raise classify(exc, what) from exc
                if give_up is not None and give_up(exc):
                    return None
                if delay is None:
                    raise classify(exc, what) from exc
                log.info("%s: GitHub answered 422, retrying in %.1fs (replica lag)", what, delay)
                self._sleep(delay)
            except requests.exceptions.RequestException as exc:
                raise classify(exc, what) from exc
        raise AssertionError("unreachable")


def _to_port(pr: GhPullRequest, created: bool) -> PullRequest:
    state: Literal["open", "closed", "merged"] = (
        "merged" if pr.merged_at is not None else "open" if pr.state == "open" else "closed")
    return PullRequest(url=pr.html_url, number=pr.number, branch=pr.head.ref, base=pr.base.ref,
                       title=pr.title or "", state=state, draft=bool(pr.draft), created=created,
                       labels=[lb.name for lb in pr.labels])
