"""A local GitHub REST server for adapter tests, backed by a real bare git repository.

It speaks the endpoints PyGithub uses to read source and to open a pull request (repo,
branches, commits, contents, Git Data blobs/trees/commits/refs, pulls, issue labels and
comments) under ``/api/v3`` like GitHub Enterprise. Every git object is a real object in the
bare repository, so a PR can only be opened for a branch that really exists, and a test can
inspect the result with the git binary. Faults (429, 403 rate limits, 5xx) are injectable.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.fake_faults import Fault, GitHubMisbehaviour, HttpError

Response = tuple[int, dict[str, str], Any]
__all__ = ["Fault", "FakeGitHub", "HttpError", "serve_app"]


@dataclass
class FakeGitHub(GitHubMisbehaviour):
    """The server state. Start it with ``serve()`` (a context manager)."""

    bare: Path
    owner: str = "acme"
    name: str = "svc"
    token: str | None = "test-token"
    protected: set[str] = field(default_factory=set)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0
    tarballs: bool = True  # serve GET .../tarball/{ref} (False: clients must fall back to blobs)
    archive_downloads: int = 0
    drafts: bool = True  # False: like a plan without draft PRs (422 on draft=true)
    visible: bool = True  # False: a private repository the token cannot see (404 everywhere)
    empty: bool = False  # True: a repository without commits (409 on git reads)
    large_file_bytes: int = 1024 * 1024  # contents API: larger files come as encoding "none"
    tree_limit: int | None = None  # recursive tree listings cut to this many entries, truncated
    lag: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- test controls ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v3"

    def inject(self, status: int, message: str = "fault", headers: dict[str, str] | None = None,
               times: int = 1, method: str | None = None, path: str | None = None, body: Any = None) -> None:
        """Answer the next ``times`` matching requests with this error."""
        self.faults.append(Fault(status, message, headers or {}, times, method, path, body))

    def close_pull(self, number: int, merged: bool = False) -> None:
        pr = self.pulls[number]
        pr["state"] = "closed"
        pr["merged"] = merged
        pr["merged_at"] = _now() if merged else None

    def git(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> str:
        proc = subprocess.run(["git", *args], cwd=self.bare, input=input, capture_output=True, timeout=60,
                              env={**os.environ, "LANG": "C", **(env or {})}, check=False)
        if proc.returncode != 0:
            raise HttpError(422, f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout.decode("utf-8", "surrogateescape").strip()

    def rev(self, ref: str) -> str | None:
        try:
            return self.git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
        except HttpError:
            return None

    # --- JSON shapes -------------------------------------------------------------------------

    @property
    def api(self) -> str:
        return f"{self.base_url}/repos/{self.owner}/{self.name}"

    def repo_json(self) -> dict[str, Any]:
        default = self.git("symbolic-ref", "--short", "HEAD")
        return {"id": 1, "name": self.name, "full_name": f"{self.owner}/{self.name}",
                "owner": {"login": self.owner, "id": 1, "type": "Organization"},
                "private": True, "default_branch": default, "url": self.api,
                "html_url": f"http://127.0.0.1:{self.port}/{self.owner}/{self.name}",
                "permissions": {"admin": False, "push": True, "pull": True}}

    def commit_json(self, sha: str) -> dict[str, Any]:
        tree = self.git("rev-parse", f"{sha}^{{tree}}")
        parents = self.git("rev-list", "--parents", "-n", "1", sha).split()[1:]
        message = self.git("log", "-1", "--format=%B", sha)
        return {"sha": sha, "url": f"{self.api}/git/commits/{sha}", "message": message,
                "tree": {"sha": tree, "url": f"{self.api}/git/trees/{tree}"},
                "parents": [{"sha": p, "url": f"{self.api}/git/commits/{p}"} for p in parents],
                "author": {"name": "x", "email": "x@example.com", "date": _now()}}

    def pull_json(self, pr: dict[str, Any]) -> dict[str, Any]:
        n = pr["number"]
        head_sha = self.rev(f"refs/heads/{pr['head']}") or pr.get("head_sha")
        return {"id": n, "number": n, "state": pr["state"], "title": pr["title"], "body": pr["body"],
                "draft": pr["draft"], "merged": pr.get("merged", False), "merged_at": pr.get("merged_at"),
                "url": f"{self.api}/pulls/{n}", "issue_url": f"{self.api}/issues/{n}",
                "html_url": f"http://127.0.0.1:{self.port}/{self.owner}/{self.name}/pull/{n}",
                "head": {"ref": pr["head"], "sha": head_sha, "label": f"{self.owner}:{pr['head']}",
                         "repo": self.repo_json()},
                "base": {"ref": pr["base"], "sha": self.rev(f"refs/heads/{pr['base']}"),
                         "label": f"{self.owner}:{pr['base']}", "repo": self.repo_json()},
                "labels": [self.label_json(name) for name in pr["labels"]],
                "user": {"login": "selfheal-bot", "id": 2}, "created_at": pr["created_at"],
                "updated_at": pr["updated_at"]}

    def label_json(self, name: str) -> dict[str, Any]:
        return {"id": abs(hash(name)) % 10**6, "name": name, "color": "ededed",
                "url": f"{self.api}/labels/{name}"}

    # --- routing -----------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, body: Any, headers: dict[str, str]) -> Response:
        parts = urlsplit(raw_path)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.requests.append((method, path))
            for fault in self.faults:
                if fault.times > 0 and (fault.method in (None, method)) and \
                        (fault.path is None or re.search(fault.path, path)):
                    fault.times -= 1
                    headers = {**fault.headers, **(fault.headers_at() if fault.headers_at else {})}
                    return fault.status, headers, fault.body if fault.body is not None else \
                        {"message": fault.message}
            if path.startswith("/_codeload/") and self.tarballs:
                # like codeload.github.com: the redirect URL itself authorises the download
                sha = path.rsplit("/", 1)[-1]
                self.archive_downloads += 1
                prefix_dir = f"--prefix={self.owner}-{self.name}-{sha[:7]}/"
                return 200, {}, subprocess.run(["git", "archive", "--format=tar.gz", prefix_dir, sha],
                                               cwd=self.bare, capture_output=True, timeout=60,
                                               check=True).stdout
            if self.token is not None:
                auth = headers.get("authorization", "")
                if auth not in (f"token {self.token}", f"Bearer {self.token}"):
                    return 401, {}, {"message": "Bad credentials"}
            prefix = f"/api/v3/repos/{self.owner}/{self.name}"
            if not path.startswith(prefix) or not self.visible:
                return 404, {}, {"message": "Not Found",
                                 "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository"}
            if self.empty and re.match(r"/(commits|contents|git/trees|tarball|compare)", path[len(prefix):]):
                return 409, {}, {"message": "Git Repository is empty."}
            try:
                return self.route(method, path[len(prefix):], query, body)
            except HttpError as exc:
                return exc.status, {}, exc.body

    def route(self, method: str, sub: str, query: dict[str, str], body: Any) -> Response:  # noqa: C901
        m = re.fullmatch
        if sub == "" and method == "GET":
            return 200, {}, self.repo_json()
        if (g := m(r"/branches/(.+)", sub)) and method == "GET":
            name = unquote(g[1])
            sha = self.rev(f"refs/heads/{name}")
            if sha is None:
                raise HttpError(404, "Branch not found")
            return 200, {}, {"name": name, "protected": name in self.protected,
                             "commit": {"sha": sha, "url": f"{self.api}/commits/{sha}"}}
        if (g := m(r"/commits/(.+)", sub)) and method == "GET":
            sha = self.rev(unquote(g[1]))
            if sha is None:
                raise HttpError(422, f"No commit found for SHA: {unquote(g[1])}")
            return 200, {}, {"sha": sha, "url": f"{self.api}/commits/{sha}", "commit": self.commit_json(sha),
                             "parents": self.commit_json(sha)["parents"]}
        if (g := m(r"/tarball/(.+)", sub)) and method == "GET" and self.tarballs:
            sha = self.rev(unquote(g[1])) or _raise(404, "Not Found")
            location = f"http://127.0.0.1:{self.port}/_codeload/{self.owner}/{self.name}/{sha}"
            return 302, {"Location": location}, None
        if (g := m(r"/compare/([^.]+)\.\.\.(.+)", sub)) and method == "GET":
            return 200, {}, self.compare(unquote(g[1]), unquote(g[2]))
        if (g := m(r"/contents/(.+)", sub)) and method == "GET":
            return self.contents(unquote(g[1]), query.get("ref") or "HEAD")
        if sub.startswith("/git/"):
            return self.git_data(method, sub[4:], query, body)
        if sub == "/pulls" and method == "GET":
            return 200, {}, self.list_pulls(query)
        if sub == "/pulls" and method == "POST":
            return 201, {}, self.create_pull(body)
        if (g := m(r"/pulls/(\d+)", sub)) and method in ("GET", "PATCH"):
            pr = self.pulls.get(int(g[1])) or _raise(404, "Not Found")
            if method == "PATCH":
                for key in ("title", "body", "state", "base"):
                    if key in body:
                        pr[key] = body[key]
                pr["updated_at"] = _now()
            return 200, {}, self.pull_json(pr)
        if (g := m(r"/issues/(\d+)/labels", sub)):
            pr = self.pulls.get(int(g[1])) or _raise(404, "Not Found")
            if method == "POST" and self.lag.get("labels"):
                self.lag["labels"] -= 1
                raise HttpError(422, f"Could not resolve to a node with the global id of 'PR_kwDO{g[1]}'.")
            if method == "POST":
                names = body if isinstance(body, list) else body.get("labels", [])
                pr["labels"] = list(dict.fromkeys([*pr["labels"], *names]))
            return 200, {}, [self.label_json(n) for n in pr["labels"]]
        if (g := m(r"/issues/(\d+)/comments", sub)):
            n = int(g[1])
            n in self.pulls or _raise(404, "Not Found")
            if method == "POST":
                c = {"id": len(self.comments.get(n, [])) + 1, "body": body["body"], "created_at": _now(),
                     "url": f"{self.api}/issues/comments/{n}", "user": {"login": "selfheal-bot"}}
                self.comments.setdefault(n, []).append(c)
                return 201, {}, c
            return 200, {}, self.comments.get(n, [])
        raise HttpError(404, "Not Found")

    def compare(self, base_ref: str, head_ref: str) -> dict[str, Any]:
        base = self.rev(base_ref) or _raise(404, "Not Found")
        head = self.rev(head_ref) or _raise(404, "Not Found")

        def ancestor(a: str, b: str) -> bool:
            return subprocess.run(["git", "merge-base", "--is-ancestor", a, b], cwd=self.bare,
                                  timeout=30, check=False).returncode == 0

        status = "identical" if base == head else "ahead" if ancestor(base, head) else \
            "behind" if ancestor(head, base) else "diverged"
        ahead = int(self.git("rev-list", "--count", f"{base}..{head}"))
        behind = int(self.git("rev-list", "--count", f"{head}..{base}"))
        return {"url": f"{self.api}/compare/{base}...{head}", "status": status, "ahead_by": ahead,
                "behind_by": behind, "total_commits": ahead, "base_commit": {"sha": base},
                "merge_base_commit": {"sha": self.git("merge-base", base, head)}, "files": []}

    def contents(self, path: str, ref: str) -> Response:
        sha = self.rev(ref) or _raise(404, f"No commit found for the ref {ref}")
        kind = subprocess.run(["git", "cat-file", "-t", f"{sha}:{path}"], cwd=self.bare, capture_output=True,
                              text=True, timeout=30, check=False).stdout.strip()
        if kind != "blob":
            raise HttpError(404, "Not Found")
        blob = self.git("rev-parse", f"{sha}:{path}")
        data = subprocess.run(["git", "cat-file", "blob", blob], cwd=self.bare, capture_output=True,
                              timeout=30, check=True).stdout
        large = len(data) > self.large_file_bytes  # GitHub: 1-100 MB files come without content
        return 200, {}, {"type": "file", "encoding": "none" if large else "base64", "size": len(data),
                         "name": path.rsplit("/", 1)[-1], "path": path, "sha": blob,
                         "content": "" if large else base64.b64encode(data).decode(),
                         "url": f"{self.api}/contents/{path}?ref={ref}",
                         "git_url": f"{self.api}/git/blobs/{blob}"}

    def git_data(self, method: str, sub: str, query: dict[str, str], body: Any) -> Response:  # noqa: C901
        m = re.fullmatch
        if sub == "/blobs" and method == "POST":
            data = base64.b64decode(body["content"]) if body.get("encoding") == "base64" \
                else body["content"].encode("utf-8")
            sha = self.git("hash-object", "-w", "--stdin", input=data)
            return 201, {}, {"sha": sha, "url": f"{self.api}/git/blobs/{sha}"}
        if (g := m(r"/blobs/([0-9a-f]{40})", sub)) and method == "GET":
            data = subprocess.run(["git", "cat-file", "blob", g[1]], cwd=self.bare, capture_output=True,
                                  timeout=30, check=False)
            if data.returncode != 0:
                raise HttpError(404, "Not Found")
            return 200, {}, {"sha": g[1], "size": len(data.stdout), "url": f"{self.api}/git/blobs/{g[1]}",
                             "content": base64.b64encode(data.stdout).decode(), "encoding": "base64"}
        if sub == "/trees" and method == "POST":
            return 201, {}, self.tree_json(self.create_tree(body), recursive=False)
        if (g := m(r"/trees/(.+)", sub)) and method == "GET":
            return 200, {}, self.tree_json(unquote(g[1]), recursive=bool(query.get("recursive")))
        if sub == "/commits" and method == "POST":
            if self.git("cat-file", "-t", body["tree"]) != "tree":
                raise HttpError(422, "Tree SHA does not exist")
            args = ["commit-tree", body["tree"]]
            for p in body.get("parents", []):
                args += ["-p", p]
            env = {"GIT_AUTHOR_NAME": "selfheal-bot", "GIT_AUTHOR_EMAIL": "bot@example.com",
                   "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}
            sha = self.git(*args, input=body["message"].encode("utf-8"), env=env)
            return 201, {}, self.commit_json(sha)
        if (g := m(r"/commits/([0-9a-f]{40})", sub)) and method == "GET":
            self.rev(g[1]) or _raise(404, "Not Found")
            return 200, {}, self.commit_json(g[1])
        if sub == "/refs" and method == "POST":
            ref, sha = body["ref"], body["sha"]
            if not ref.startswith("refs/") or ref.count("/") < 2:
                raise HttpError(422, "Reference name must start with 'refs/' and have two slashes")
            if self.rev(ref):
                raise HttpError(422, "Reference already exists")
            self.rev(sha) or _raise(422, "Object does not exist")
            self.git("update-ref", ref, sha)
            return 201, {}, self.ref_json(ref)
        if (g := m(r"/refs?/(heads/.+)", sub)):
            ref = "refs/" + unquote(g[1])
            self.rev(ref) or _raise(404, "Not Found")
            if method == "PATCH":
                branch = ref.removeprefix("refs/heads/")
                if branch in self.protected:
                    raise HttpError(422, f"Protected branch update failed for {ref}.")
                old = self.rev(ref)
                if not body.get("force") and \
                        subprocess.run(["git", "merge-base", "--is-ancestor", str(old), body["sha"]],
                                       cwd=self.bare, timeout=30, check=False).returncode != 0:
                    raise HttpError(422, "Update is not a fast forward")
                self.git("update-ref", ref, body["sha"])
            return 200, {}, self.ref_json(ref)
        raise HttpError(404, "Not Found")

    def ref_json(self, ref: str) -> dict[str, Any]:
        sha = self.rev(ref)
        return {"ref": ref, "url": f"{self.api}/git/{ref}",
                "object": {"type": "commit", "sha": sha, "url": f"{self.api}/git/commits/{sha}"}}

    def tree_json(self, treeish: str, recursive: bool) -> dict[str, Any]:
        sha = self.git("rev-parse", f"{treeish}^{{tree}}")
        args = ["ls-tree", "-l", "-z", *(["-r", "-t"] if recursive else []), sha]
        entries = []
        for line in self.git(*args).split("\0"):
            if not line:
                continue
            meta, path = line.split("\t", 1)
            mode, kind, obj, size = meta.split()
            entries.append({"path": path, "mode": mode, "type": kind, "sha": obj,
                            "size": None if size == "-" else int(size),
                            "url": f"{self.api}/git/{kind}s/{obj}"})
        truncated = recursive and self.tree_limit is not None and len(entries) > self.tree_limit
        if truncated:
            entries = entries[:self.tree_limit]
        return {"sha": sha, "url": f"{self.api}/git/trees/{sha}", "tree": entries, "truncated": truncated}

    def create_tree(self, body: dict[str, Any]) -> str:
        with tempfile.TemporaryDirectory() as td:
            env = {"GIT_INDEX_FILE": str(Path(td) / "index")}
            if body.get("base_tree"):
                self.git("read-tree", body["base_tree"], env=env)
            for e in body["tree"]:
                if e.get("sha", "") is None:
                    self.git("update-index", "--force-remove", e["path"], env=env)
                    continue
                sha = e.get("sha") or self.git("hash-object", "-w", "--stdin", input=e["content"].encode())
                self.git("update-index", "--add", "--cacheinfo", f"{e['mode']},{sha},{e['path']}", env=env)
            return self.git("write-tree", env=env)

    def list_pulls(self, q: dict[str, str]) -> list[dict[str, Any]]:
        state = q.get("state", "open")
        out = [p for p in self.pulls.values()
               if (state == "all" or p["state"] == state)
               and ("head" not in q or f"{self.owner}:{p['head']}" == q["head"])
               and ("base" not in q or p["base"] == q["base"])]
        out.sort(key=lambda p: p["number"], reverse=q.get("direction", "desc") == "desc")
        return [self.pull_json(p) for p in out]

    def create_pull(self, body: dict[str, Any]) -> dict[str, Any]:
        head = body["head"].split(":", 1)[-1]
        base = body["base"]
        head_sha = self.rev(f"refs/heads/{head}")
        base_sha = self.rev(f"refs/heads/{base}")
        if head_sha is None or base_sha is None:
            raise HttpError(422, "Validation Failed", errors=[
                {"resource": "PullRequest", "field": "head" if head_sha is None else "base",
                 "code": "invalid"}])
        if self.lag.get("race"):
            self.lag["race"] -= 1
            self.create_pull({**body, "title": "opened by a concurrent run"})
        if any(p["head"] == head and p["base"] == base and p["state"] == "open" for p in self.pulls.values()):
            raise HttpError(422, "Validation Failed", errors=[
                {"resource": "PullRequest", "code": "custom",
                 "message": f"A pull request already exists for {self.owner}:{head}."}])
        if body.get("draft") and not self.drafts:
            raise HttpError(422, "Validation Failed", errors=[
                {"resource": "PullRequest", "code": "custom",
                 "message": "Draft pull requests are not supported in this repository."}])
        if self.lag.get("pulls"):
            self.lag["pulls"] -= 1
            raise HttpError(422, "Validation Failed", errors=[
                {"resource": "PullRequest", "code": "custom",
                 "message": f"No commits between {base} and {head}"}])
        if self.git("rev-list", "--count", f"{base_sha}..{head_sha}") == "0":
            raise HttpError(422, "Validation Failed", errors=[
                {"resource": "PullRequest", "code": "custom",
                 "message": f"No commits between {base} and {head}"}])
        n = max([*self.pulls, *self.comments, 0]) + 1
        pr = {"number": n, "head": head, "base": base, "title": body["title"], "body": body.get("body") or "",
              "draft": bool(body.get("draft", False)), "state": "open", "labels": [], "merged": False,
              "merged_at": None, "created_at": _now(), "updated_at": _now(), "head_sha": head_sha}
        self.pulls[n] = pr
        return self.pull_json(pr)

    # --- serving -----------------------------------------------------------------------------

    @contextmanager
    def serve(self) -> Iterator[FakeGitHub]:
        with serve_app(self.handle, "fake-github") as port:
            self.port = port
            yield self


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def serve_app(handle: Any, name: str) -> Iterator[int]:
    """Serve ``handle(method, path, json_body, headers) -> (status, headers, payload)`` on a free
    127.0.0.1 port (yielded). A ``bytes`` payload is sent raw, anything else as JSON."""

    class Handler(BaseHTTPRequestHandler):
        def _do(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            status, headers, payload = handle(self.command, self.path, body,
                                              {k.lower(): v for k, v in self.headers.items()})
            is_raw = isinstance(payload, bytes)
            data = payload if is_raw else json.dumps(payload).encode()
            self.send_response(status)
            if not any(k.lower() == "content-type" for k in headers):
                kind = "text/plain" if is_raw else "application/json; charset=utf-8"
                self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _do

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name,
                              daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _raise(status: int, message: str) -> Any:
    raise HttpError(status, message)
