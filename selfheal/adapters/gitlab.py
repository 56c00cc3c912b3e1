"""GitLab (python-gitlab): ``SourceRepository`` through the repository API and ``CodeHost``
through the Commits API (one call writes a commit with file actions onto a branch, forced
onto the base) and merge requests. No git binary needed.

Works with gitlab.com and self-managed instances (``url``). HTTP failures become errors named
by condition: 429 and 5xx are retryable; 401, 403 and 400/409/422 are not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

import gitlab
import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabError

from selfheal.adapters.codehost_common import (
    REGULAR_MODES,
    HostApiCalls,
    check_commit_files,
    readable_path,
    temporary_tree,
    write_blob,
)
from selfheal.adapters.git_process import decode_text
from selfheal.adapters.local_git import foreign_commits_message
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

# python-gitlab would sleep through 429s itself; the workflow retries with its own backoff.
_NO_WAIT: dict[str, Any] = {"obey_rate_limit": False}
_last_headers = threading.local()


def _remember_headers(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    # python-gitlab's exceptions drop response headers; keep them to read Retry-After.
    _last_headers.value = dict(response.headers)


def make_client(token: str | None, url: str = "https://gitlab.com", *, timeout: float = 15) -> gitlab.Gitlab:
    """A python-gitlab client that neither sleeps on rate limits nor retries 5xx."""
    session = requests.Session()
    session.hooks["response"].append(_remember_headers)
    return gitlab.Gitlab(url.rstrip("/"), private_token=token, timeout=timeout, session=session,
                         retry_transient_errors=False)


def _watch_headers(client: gitlab.Gitlab) -> None:
    """Make a client built elsewhere remember response headers too (for ``Retry-After``)."""
    hooks = getattr(getattr(client, "session", None), "hooks", None)
    if isinstance(hooks, dict) and _remember_headers not in hooks.setdefault("response", []):
        hooks["response"].append(_remember_headers)


DEFAULT_LIMIT_WAIT_S = 60.0  # a 429 that names no time: GitLab's limits count per minute


def rate_limit_wait(headers: dict[str, Any] | None, now: float | None = None) -> float:
    """The wait GitLab asks for on a 429, in seconds: ``Retry-After`` (GitLab sends up to 600),
    else ``RateLimit-Reset`` (epoch seconds), else one minute."""
    h = {str(k).lower(): str(v).strip() for k, v in (headers or {}).items()}
    clock = time.time() if now is None else now
    try:
        return max(0.0, float(h["retry-after"]))
    except (KeyError, ValueError):
        pass
    if h.get("ratelimit-reset", "").isdigit():
        return max(1.0, float(h["ratelimit-reset"]) - clock)
    return DEFAULT_LIMIT_WAIT_S


def classify(exc: Exception, what: str) -> SelfhealError:
    """Map a python-gitlab/requests failure to an error class named by condition."""
    if isinstance(exc, requests.exceptions.RequestException):
        return CodeHostUnavailable(f"{what}: cannot reach GitLab ({type(exc).__name__})")
    if not isinstance(exc, GitlabError):
        return CodeHostUnavailable(f"{what}: {type(exc).__name__}: {exc}")
    code = exc.response_code or 0
    text = str(exc.error_message)
    if code == 429:
        wait = rate_limit_wait(getattr(_last_headers, "value", None))
        return CodeHostRateLimited(f"{what}: GitLab rate limit (429: {text}); retry after {wait:.0f}s",
                                   retry_after=wait)
    if code >= 500:
        return CodeHostUnavailable(f"{what}: GitLab error {code}: {text}")
    if code == 401 or isinstance(exc, GitlabAuthenticationError):
        return CodeHostAuthFailed(f"{what}: GitLab rejected the token ({code}: {text})")
    if code == 404:
        return ConfigurationError(f"{what}: not found, or the token cannot see it (404: {text})")
    return CodeHostForbidden(f"{what}: GitLab refused ({code}: {text})")


class _GitLabBase(HostApiCalls):
    _host_error: ClassVar[type[Exception]] = GitlabError
    _call_kwargs: ClassVar[dict[str, Any]] = _NO_WAIT

    def __init__(self, project: str, *, token: str | None = None, url: str = "https://gitlab.com",
                 client: gitlab.Gitlab | None = None, base_branch: str | None = None) -> None:
        if "/" not in project.strip("/"):
            raise ConfigurationError(f"GitLab project must be 'group/name', got {project!r}")
        self.project_path = project.strip("/")
        self._token, self._url, self._client = token, url, client
        self._base_branch = base_branch
        self._project: Any = None
        self._lock = threading.Lock()

    def _status(self, exc: Exception) -> int | None:
        return exc.response_code if isinstance(exc, GitlabError) else None

    def _classify(self, exc: Exception, what: str) -> SelfhealError:
        return classify(exc, what)

    def project(self) -> Any:
        """The python-gitlab project (fetched once)."""
        with self._lock:
            if self._project is None:
                if self._client is None:
                    self._client = make_client(self._token, self._url)
                _watch_headers(self._client)
                self._project = self._call(f"open {self.project_path}", self._client.projects.get,
                                           self.project_path)
            return self._project

    def default_branch(self) -> str:
        return self._base_branch or str(self.project().default_branch)

    def resolve(self, ref: str | None = None) -> str:
        name = ref or self.default_branch()
        commit = self._find(f"resolve {name}", self.project().commits.get, name)
        if commit is None:
            raise SourceNotFound(f"no commit {name!r} in {self.project_path}")
        return str(commit.id)

    def _tree(self, sha: str) -> list[dict[str, Any]]:
        items = self._call("read tree", self.project().repository_tree, ref=sha, recursive=True,
                           get_all=True)
        return [dict(i) for i in items]

    def _raw(self, path: str, sha: str) -> bytes | None:
        data = self._find(f"read {path}", self.project().files.raw, file_path=path, ref=sha)
        return None if data is None else bytes(data)


class GitLabRepository(_GitLabBase):
    """``SourceRepository`` over the GitLab repository API at a commit."""

    def list_files(self, revision: str) -> list[str]:
        return [e["path"] for e in self._tree(self.resolve(revision)) if e["type"] == "blob"]

    def read_file(self, path: str, revision: str) -> str | None:
        if not readable_path(path):
            return None
        data = self._raw(path, self.resolve(revision))
        return None if data is None else decode_text(data)

    def checkout(self, revision: str) -> AbstractContextManager[Path]:
        return self._checkout(revision)

    @contextmanager
    def _checkout(self, revision: str) -> Iterator[Path]:
        entries = self._tree(self.resolve(revision))
        with temporary_tree("selfheal-gl-tree-") as root:
            for e in entries:
                if e["type"] == "blob" and e["mode"] in REGULAR_MODES:
                    data = self._call("read blob", self.project().repository_raw_blob, e["id"])
                    write_blob(root, e["path"], e["mode"], bytes(data))
            yield root


class GitLabHost(_GitLabBase):
    """``CodeHost`` over the GitLab Commits and Merge Requests APIs."""

    def commit_branch(self, branch: str, base_revision: str, files: dict[str, str], message: str) -> str:
        if not files:
            raise EditRejected("no files to commit")
        base = self.resolve(base_revision)
        modes = {e["path"]: e["mode"] for e in self._tree(base)}
        check_commit_files(files, modes)
        tip = self._branch_tip(branch)
        if tip is not None:
            commit = self._call("read branch head", self.project().commits.get, tip)
            parents = list(commit.parent_ids)
            if parents == [base] and self._same_change(commit, files):
                return tip
            if len(parents) != 1 or not self._is_ancestor(parents[0], base):
                raise CodeHostForbidden(foreign_commits_message(branch))
        actions = [{"action": "update" if path in modes else "create", "file_path": path,
                    "content": files[path]} for path in sorted(files)]
        commit = self._call(f"commit to {branch}", self.project().commits.create,
                            {"branch": branch, "start_sha": base, "commit_message": message,
                             "actions": actions, "force": True})
        return str(commit.id)

    def _branch_tip(self, branch: str) -> str | None:
        found = self._find(f"read branch {branch}", self.project().branches.get, branch)
        return None if found is None else str(found.commit["id"])

    def _same_change(self, commit: Any, files: dict[str, str]) -> bool:
        changed = {d["new_path"] for d in self._call("read diff", commit.diff, get_all=True)}
        if not changed <= set(files):
            return False
        return all(self._raw(p, str(commit.id)) == text.encode("utf-8") for p, text in files.items())

    def _is_ancestor(self, older: str, newer: str) -> bool:
        if older == newer:
            return True
        found = self._call("merge base", self.project().repository_merge_base, [older, newer])
        return isinstance(found, dict) and found.get("id") == older

    def _merge_requests(self, branch: str, state: str | None) -> list[Any]:
        kwargs: dict[str, Any] = {"source_branch": branch, "order_by": "created_at", "sort": "desc",
                                  "per_page": 20, "get_all": False}
        if state:
            kwargs["state"] = state
        return list(self._call("list merge requests", self.project().mergerequests.list, **kwargs))

    def find_pull_request(self, branch: str) -> PullRequest | None:
        mrs = self._merge_requests(branch, None)
        newest = max(mrs, key=lambda m: m.iid, default=None)
        return _to_port(newest, created=False) if newest is not None else None

    def open_pull_request(self, branch: str, base: str, title: str, body: str,
                          labels: Sequence[str] = (), draft: bool = True) -> PullRequest:
        full_title = f"Draft: {title}" if draft else title
        opened = self._merge_requests(branch, "opened")
        if not opened:
            try:
                mr = self.project().mergerequests.create(
                    {"source_branch": branch, "target_branch": base, "title": full_title,
                     "description": body, "labels": ",".join(labels), "remove_source_branch": False},
                    **_NO_WAIT)
                return _to_port(mr, created=True)
            except GitlabError as exc:
                # 409 "Another open merge request already exists": a concurrent run opened it; adopt it.
                opened = self._merge_requests(branch, "opened") if exc.response_code == 409 else []
                if not opened:
                    raise classify(exc, f"open merge request from {branch}") from exc
            except requests.exceptions.RequestException as exc:
                raise classify(exc, f"open merge request from {branch}") from exc
        mr = opened[0]
        mr.title, mr.description = full_title, body
        mr.labels = list(dict.fromkeys([*mr.labels, *labels]))
        self._call("update merge request", mr.save)
        return _to_port(mr, created=False)


def _to_port(mr: Any, created: bool) -> PullRequest:
    raw = mr.state
    state: Literal["open", "closed", "merged"] = (
        "open" if raw == "opened" else "merged" if raw == "merged" else "closed")
    title = str(mr.title)
    draft = bool(getattr(mr, "draft", False)) or title.startswith("Draft:")
    return PullRequest(url=str(mr.web_url), number=int(mr.iid), branch=str(mr.source_branch),
                       base=str(mr.target_branch), title=title.removeprefix("Draft: "), state=state,
                       draft=draft, created=created, labels=[str(lb) for lb in mr.labels])
