"""A local GitLab REST (v4) server for adapter tests, backed by a real bare git repository.

It speaks what python-gitlab uses to read source and open a merge request: project, repository
commits (get, create with file actions), tree, raw files and blobs, branches, merge requests.
Commits are real git objects, so a merge request can only be opened for a branch that exists.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.fake_github import Fault, HttpError, _now, serve_app

Response = tuple[int, dict[str, str], Any]


@dataclass
class FakeGitLab:
    bare: Path
    path: str = "acme/svc"
    token: str | None = "test-token"
    protected: set[str] = field(default_factory=set)
    mrs: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    port: int = 0
    multi: dict[str, list[str]] = field(default_factory=dict)  # the current request's query lists
    per_page: int = 20  # GitLab's default page size; lists are paginated with Link/X-Next-Page
    race: int = 0  # the next N merge-request creations find one opened by a concurrent run (409)
    _path: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inject(self, status: int, message: str = "fault", headers: dict[str, str] | None = None,
               times: int = 1, method: str | None = None, path: str | None = None, body: Any = None) -> None:
        self.faults.append(Fault(status, message, headers or {}, times, method, path, body))

    def page(self, items: list[Any]) -> Response:
        """One page of ``items`` as GitLab serves lists (``page``/``per_page``, at most 100), with
        ``X-Next-Page``/``X-Total`` and a ``Link: <...>; rel="next"`` header while more remain."""
        q = {k: v[-1] for k, v in self.multi.items()}
        size = min(100, int(q.get("per_page") or self.per_page))
        number = max(1, int(q.get("page") or 1))
        chunk = items[(number - 1) * size: number * size]
        headers = {"X-Page": str(number), "X-Per-Page": str(size), "X-Total": str(len(items)),
                   "X-Total-Pages": str(max(1, -(-len(items) // size))), "X-Next-Page": ""}
        if number * size < len(items):
            query = "&".join(f"{k}={v}" for k, vs in self.multi.items() if k not in ("page", "per_page")
                             for v in vs)
            nxt = f"{self.url}{self._path}?{query}&page={number + 1}&per_page={size}".replace("?&", "?")
            headers.update({"X-Next-Page": str(number + 1), "Link": f'<{nxt}>; rel="next"'})
        return 200, headers, chunk

    def close_mr(self, iid: int, merged: bool = False) -> None:
        self.mrs[iid]["state"] = "merged" if merged else "closed"

    def git(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
        proc = subprocess.run(["git", *args], cwd=self.bare, input=input, capture_output=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin", "LANG": "C", **(env or {})}, check=False)
        if proc.returncode != 0:
            raise HttpError(400, f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout

    def out(self, *args: str, **kw: Any) -> str:
        return self.git(*args, **kw).decode().strip()

    def rev(self, ref: str) -> str | None:
        try:
            return self.out("rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
        except HttpError:
            return None

    # --- shapes --------------------------------------------------------------------------------

    def project_json(self) -> dict[str, Any]:
        default = self.out("symbolic-ref", "--short", "HEAD")
        return {"id": 1, "path_with_namespace": self.path, "default_branch": default,
                "web_url": f"{self.url}/{self.path}"}

    def commit_json(self, sha: str) -> dict[str, Any]:
        parents = self.out("rev-list", "--parents", "-n", "1", sha).split()[1:]
        message = self.out("log", "-1", "--format=%B", sha)
        return {"id": sha, "short_id": sha[:8], "parent_ids": parents, "title": message.splitlines()[0],
                "message": message, "web_url": f"{self.url}/{self.path}/-/commit/{sha}"}

    def mr_json(self, mr: dict[str, Any]) -> dict[str, Any]:
        return {**{k: v for k, v in mr.items() if k != "sha"}, "id": mr["iid"] + 1000, "project_id": 1,
                "web_url": f"{self.url}/{self.path}/-/merge_requests/{mr['iid']}",
                "draft": mr["title"].startswith("Draft:"),
                "sha": self.rev(f"refs/heads/{mr['source_branch']}")}

    # --- routing -------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, body: Any, headers: dict[str, str]) -> Response:
        parts = urlsplit(raw_path)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.multi = parse_qs(parts.query)
            self._path = path
            for fault in self.faults:
                if fault.times > 0 and fault.method in (None, method) and \
                        (fault.path is None or re.search(fault.path, path)):
                    fault.times -= 1
                    return fault.status, fault.headers, fault.body if fault.body is not None else \
                        {"message": fault.message}
            if self.token is not None and headers.get("private-token") != self.token:
                return 401, {}, {"message": "401 Unauthorized"}
            m = re.fullmatch(r"/api/v4/projects/([^/]+)(/.*)?", path)
            if not m or unquote(m[1]) not in (self.path, "1"):
                return 404, {}, {"message": "404 Project Not Found"}
            try:
                return self.route(method, m[2] or "", query, body)
            except HttpError as exc:
                return exc.status, {}, exc.body

    def route(self, method: str, sub: str, q: dict[str, str], body: Any) -> Response:  # noqa: C901
        m = re.fullmatch
        if sub == "" and method == "GET":
            return 200, {}, self.project_json()
        if (g := m(r"/repository/commits/([^/]+)", sub)) and method == "GET":
            sha = self.rev(unquote(g[1])) or _raise(404, "404 Commit Not Found")
            return 200, {}, self.commit_json(sha)
        if (g := m(r"/repository/commits/([^/]+)/diff", sub)) and method == "GET":
            sha = self.rev(unquote(g[1])) or _raise(404, "404 Commit Not Found")
            names = self.out("diff-tree", "--no-commit-id", "-r", "--name-only", "--root", sha).splitlines()
            return 200, {}, [{"old_path": n, "new_path": n, "diff": ""} for n in names]
        if sub == "/repository/merge_base" and method == "GET":
            refs = [self.rev(r) or _raise(404, "404 Commit Not Found") for r in self.multi.get("refs[]", [])]
            len(refs) >= 2 or _raise(400, "Provide at least 2 refs")
            return 200, {}, self.commit_json(self.out("merge-base", *refs))
        if sub == "/repository/commits" and method == "POST":
            return 201, {}, self.commit_json(self.create_commit(body))
        if sub == "/repository/tree" and method == "GET":
            sha = self.rev(q.get("ref", "HEAD")) or _raise(404, "404 Tree Not Found")
            rec = ["-r"] if q.get("recursive") in ("true", "True", "1") else []
            entries = []
            for line in self.out("ls-tree", "-z", *rec, sha).split("\0"):
                if line:
                    meta, p = line.split("\t", 1)
                    mode, kind, obj = meta.split()
                    entries.append({"id": obj, "name": p.rsplit("/", 1)[-1], "type": kind, "path": p,
                                    "mode": mode})
            return self.page(entries)
        if (g := m(r"/repository/files/(.+)/raw", sub)) and method == "GET":
            sha = self.rev(q.get("ref", "HEAD")) or _raise(404, "404 Commit Not Found")
            try:
                return 200, {}, self.git("cat-file", "blob", f"{sha}:{unquote(g[1])}")
            except HttpError:
                raise HttpError(404, "404 File Not Found") from None
        if (g := m(r"/repository/blobs/([0-9a-f]{40})/raw", sub)) and method == "GET":
            return 200, {}, self.git("cat-file", "blob", g[1])
        if (g := m(r"/repository/branches/(.+)", sub)) and method == "GET":
            name = unquote(g[1])
            sha = self.rev(f"refs/heads/{name}") or _raise(404, "404 Branch Not Found")
            return 200, {}, {"name": name, "protected": name in self.protected,
                             "commit": self.commit_json(sha)}
        if sub == "/merge_requests" and method == "GET":
            out = [mr for mr in self.mrs.values()
                   if ("source_branch" not in q or mr["source_branch"] == q["source_branch"])
                   and (q.get("state", "all") == "all" or mr["state"] == q["state"])]
            out.sort(key=lambda mr: mr["iid"], reverse=q.get("sort", "desc") == "desc")
            return self.page([self.mr_json(mr) for mr in out])
        if sub == "/merge_requests" and method == "POST":
            return 201, {}, self.create_mr(body)
        if (g := m(r"/merge_requests/(\d+)", sub)) and method in ("GET", "PUT"):
            mr = self.mrs.get(int(g[1])) or _raise(404, "404 Not found")
            if method == "PUT":
                for key in ("title", "description"):
                    if key in body:
                        mr[key] = body[key]
                if "labels" in body:
                    labels = body["labels"]
                    mr["labels"] = labels.split(",") if isinstance(labels, str) else list(labels)
                mr["updated_at"] = _now()
            return 200, {}, self.mr_json(mr)
        raise HttpError(404, "404 Not Found")

    def create_commit(self, body: dict[str, Any]) -> str:
        branch = body["branch"]
        if branch in self.protected:
            raise HttpError(403, "You are not allowed to push into this branch")
        tip = self.rev(f"refs/heads/{branch}")
        start = body.get("start_sha") or body.get("start_branch")
        if tip is not None and start and not body.get("force"):
            raise HttpError(400, f"A branch called '{branch}' already exists. Switch to that branch "
                                 "in order to make changes")
        parent = self.rev(start) if start else tip
        parent or _raise(400, "You can only create or edit files when you are on a branch")
        with tempfile.TemporaryDirectory() as td:
            env = {"GIT_INDEX_FILE": str(Path(td) / "index")}
            self.git("read-tree", str(parent), env=env)
            for a in body["actions"]:
                p = a["file_path"]
                listed = self.out("ls-tree", str(parent), "--", p).split()
                if a["action"] == "create" and listed:
                    raise HttpError(400, "A file with this name already exists")
                if a["action"] == "update" and not listed:
                    raise HttpError(400, "A file with this name doesn't exist")
                blob = self.out("hash-object", "-w", "--stdin", input=a["content"].encode())
                mode = listed[0] if listed else "100644"
                self.git("update-index", "--add", "--cacheinfo", f"{mode},{blob},{p}", env=env)
            tree = self.out("write-tree", env=env)
        ident = {"GIT_AUTHOR_NAME": "bot", "GIT_AUTHOR_EMAIL": "bot@example.com",
                 "GIT_COMMITTER_NAME": "bot", "GIT_COMMITTER_EMAIL": "bot@example.com"}
        sha = self.out("commit-tree", tree, "-p", str(parent), input=body["commit_message"].encode(),
                       env=ident)
        self.git("update-ref", f"refs/heads/{branch}", sha)
        return sha

    def create_mr(self, body: dict[str, Any]) -> dict[str, Any]:
        src, tgt = body["source_branch"], body["target_branch"]
        if self.rev(f"refs/heads/{src}") is None or self.rev(f"refs/heads/{tgt}") is None:
            raise HttpError(400, f"Source branch \"{src}\" or target branch does not exist")
        if self.race:
            self.race -= 1
            self.create_mr({**body, "title": "opened by a concurrent run"})
        for mr in self.mrs.values():
            if mr["source_branch"] == src and mr["target_branch"] == tgt and mr["state"] == "opened":
                raise HttpError(409, f"Another open merge request already exists for this source branch: "
                                     f"!{mr['iid']}")
        iid = max(self.mrs, default=0) + 1
        labels = body.get("labels") or ""
        self.mrs[iid] = {"iid": iid, "title": body["title"], "description": body.get("description", ""),
                         "state": "opened", "source_branch": src, "target_branch": tgt,
                         "labels": [x for x in (labels.split(",") if isinstance(labels, str) else labels)
                                    if x],
                         "created_at": _now(), "updated_at": _now()}
        return self.mr_json(self.mrs[iid])

    @contextmanager
    def serve(self) -> Iterator[FakeGitLab]:
        with serve_app(self.handle, "fake-gitlab") as port:
            self.port = port
            yield self


def _raise(status: int, message: str) -> Any:
    raise HttpError(status, message)
