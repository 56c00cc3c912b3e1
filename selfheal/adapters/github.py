"""GitHub (PyGithub): ``SourceRepository`` through the contents/Git Data API and ``CodeHost``
through blobs, trees, commits and refs, so no ``git`` binary is needed (Lambda has none).

Works against github.com and GitHub Enterprise (``base_url=https://host/api/v3``). HTTP
failures become errors named by condition: rate limits and 5xx are retryable, 401/403/422 are
not (see ``classify``).
"""

from __future__ import annotations

import base64
import re
import shutil
import tarfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import requests
from github import Auth, Github, GithubException, InputGitTreeElement, RateLimitExceededException
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
from selfheal.adapters.local_git import foreign_commits_message, safe_repo_path
from selfheal.errors import (
    CodeHostAuthFailed,
    CodeHostForbidden,
    CodeHostRateLimited,
    CodeHostUnavailable,
    ConfigurationError,
    EditRejected,
    SelfhealError,
    SourceNotFound,
)
from selfheal.ports import PullRequest

_SHA = re.compile(r"^[0-9a-f]{40}$")


def make_client(token: str | None, base_url: str | None = None, *, timeout: int = 15,
                throttle: bool = True) -> Github:
    """A PyGithub client; ``throttle=False`` turns off its client-side pacing and retries (tests,
    and the workflow, which retries with its own backoff)."""
    kwargs: dict[str, Any] = {"timeout": timeout}
    if base_url:
        kwargs["base_url"] = base_url.rstrip("/")
    if token:
        kwargs["auth"] = Auth.Token(token)
    if not throttle:
        kwargs.update(seconds_between_requests=0, seconds_between_writes=0, retry=None)
    return Github(**kwargs)


SECONDARY_LIMIT_WAIT_S = 60.0  # GitHub: "wait at least one minute" when a limit names no time


def _parse_retry_after(value: str, now: float) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date (RFC 9110)."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError, IndexError):
        return None


def rate_limit_wait(headers: dict[str, Any], now: float | None = None) -> float:
    """The wait GitHub asks for on a rate-limited response, in seconds.

    GitHub's rules: ``retry-after`` first; else, for a primary limit (``x-ratelimit-remaining:
    0``), until ``x-ratelimit-reset`` (epoch seconds, measured against the response's ``Date`` so
    a skewed local clock does not matter); else (a secondary limit) at least one minute. A reset
    time on a secondary limit is the primary window's and says nothing about this limit.
    """
    h = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    clock = time.time() if now is None else now
    if "retry-after" in h:
        wait = _parse_retry_after(h["retry-after"], clock)
        if wait is not None:
            return max(0.0, wait)
    reset = h.get("x-ratelimit-reset", "")
    if h.get("x-ratelimit-remaining", "").strip() == "0" and reset.strip().isdigit():
        server_now = _parse_retry_after(h["date"], 0.0) if "date" in h else None
        return max(1.0, float(reset) - (server_now if server_now is not None else clock))
    return SECONDARY_LIMIT_WAIT_S


def classify(exc: Exception, what: str) -> SelfhealError:
    """Map a PyGithub/requests failure to an error class named by condition."""
    if isinstance(exc, requests.exceptions.RequestException):
        return CodeHostUnavailable(f"{what}: cannot reach GitHub ({type(exc).__name__})")
    if not isinstance(exc, GithubException):
        return CodeHostUnavailable(f"{what}: {type(exc).__name__}: {exc}")
    status = exc.status
    data = exc.data if isinstance(exc.data, dict) else {}
    message = str(data.get("message") or exc.message or "")
    details = "; ".join(str(e.get("message") or e.get("code")) for e in data.get("errors", [])
                        if isinstance(e, dict))
    text = f"{message} ({details})" if details else message
    headers = {str(k).lower(): v for k, v in (exc.headers or {}).items()}
    limited = status == 429 or isinstance(exc, RateLimitExceededException) or (
        status == 403 and ("retry-after" in headers or str(headers.get("x-ratelimit-remaining")) == "0"))
    if limited:
        wait = rate_limit_wait(headers)
        return CodeHostRateLimited(f"{what}: GitHub rate limit ({status}: {text}); retry after {wait:.0f}s",
                                   retry_after=wait)
    if status >= 500:
        return CodeHostUnavailable(f"{what}: GitHub error {status}: {text}")
    if status == 401:
        return CodeHostAuthFailed(f"{what}: GitHub rejected the token (401: {text})")
    if status in (403, 422):
        return CodeHostForbidden(f"{what}: GitHub refused ({status}: {text})")
    if status == 404:
        return ConfigurationError(f"{what}: not found, or the token cannot see it (404: {text})")
    return CodeHostForbidden(f"{what}: GitHub error {status}: {text}")


class _GitHubBase(HostApiCalls):
    _host_error: ClassVar[type[Exception]] = GithubException

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
        commit = self._find(f"resolve {name}", self.repo().get_commit, name, missing=(404, 422))
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
        return [e.path for e in self._tree(revision) if e.type == "blob"]

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
        modes = {e.path: e.mode for e in self._call("read base tree", repo.get_git_tree, base.tree.sha,
                                                    recursive=True).tree}
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
            pr = open_prs[0]
            changed = (pr.body or "") != body
            self._call("update pull request", pr.edit, title=title, body=body)
            if changed:
                # Editing a body notifies nobody; a comment tells reviewers the fix was redone.
                head = str(pr.head.sha or "")[:12]
                self._call("comment on pull request", pr.create_issue_comment,
                           f"selfheal regenerated this fix (head `{head}`); the description is updated.")
            created = False
        else:
            pr = self._create(branch, base, title, body, draft)
            created = True
        have = {lb.name for lb in pr.labels}
        missing = [lb for lb in labels if lb not in have]
        if missing:
            self._call("label pull request", pr.add_to_labels, *missing)
            pr = self._call("read pull request", self.repo().get_pull, pr.number)
        return _to_port(pr, created=created)

    def _create(self, branch: str, base: str, title: str, body: str, draft: bool) -> GhPullRequest:
        repo = self.repo()
        try:
            return repo.create_pull(base=base, head=branch, title=title, body=body, draft=draft)
        except GithubException as exc:
            text = str(exc.data).lower()
            if exc.status == 422 and draft and "draft" in text:
                # Draft PRs are unavailable on some plans: open a normal PR (the body says unverified).
                return self._call("open pull request", repo.create_pull, base=base, head=branch,
                                  title=title, body=body, draft=False)
            raise classify(exc, f"open pull request from {branch}") from exc
        except requests.exceptions.RequestException as exc:
            raise classify(exc, f"open pull request from {branch}") from exc


def _to_port(pr: GhPullRequest, created: bool) -> PullRequest:
    state: Literal["open", "closed", "merged"] = (
        "merged" if pr.merged_at is not None else "open" if pr.state == "open" else "closed")
    return PullRequest(url=pr.html_url, number=pr.number, branch=pr.head.ref, base=pr.base.ref,
                       title=pr.title or "", state=state, draft=bool(pr.draft), created=created,
                       labels=[lb.name for lb in pr.labels])
