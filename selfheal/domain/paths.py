"""Where a frame's file sits, independent of where the code was deployed.

The same source file runs from ``/var/task``, ``/srv/releases/20261206/``, a CI workspace
(``/home/runner/work/<repo>/<repo>``, ``/builds/<group>/<project>``) or a developer's clone. Three
views of a frame path are computed here, all free of the deployment location:

* ``library_path``: a library or standard-library file relative to its import root (the part
  after ``site-packages/``, ``dist-packages/``, ``lib/pythonX.Y/``, the Lambda runtime's
  ``/var/runtime/``), e.g. ``requests/models.py``; None for application code.
* ``app_path``: an application file relative to its root, for people and for ``ignore_paths``:
  the repository-relative path when the repository's files are known (``RepoIndex``, longest
  path suffix); else the path with a known deploy root stripped (configured ``app_roots`` first,
  then the built-in roots and any release folder named by a timestamp, version or commit hash);
  else its last three components.
* ``identity_name``: the file name alone (``pkg/__init__.py`` for a package's ``__init__``), what
  fingerprint v2 hashes for application frames together with the function and the normalised
  source line, so a clone at an unknown place groups with the deployed copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_KEEP_COMPONENTS = 3
# The configured ``app_roots`` default (Settings uses it; the built-in roots below cover more).
DEFAULT_APP_ROOTS = ("/var/task/", "/app/", "/srv/app/")

# The import root of installed and standard-library code: everything up to it is location.
_LIBRARY_ROOT_RE = re.compile(
    r"^.*?(?:/|^)(?:site-packages|dist-packages)/"
    r"|^.*?/__pypackages__/\d+(?:\.\d+)?/lib/"
    r"|^.*?(?:/|^)lib(?:64)?/python\d*(?:\.\d+)?/"
    r"|^.*?(?:/|^)python\d+(?:\.\d+)?\.zip/"
    r"|^.*?/python\d*_lib/"
    r"|^[a-z]:/python\d*/lib/"
    r"|^/var/runtime/|^/var/lang/lib/python\d+(?:\.\d+)?/|^/opt/python/",
    re.IGNORECASE,
)
# Deploy roots that precede the application's own paths (matched at the start of the path).
_DEPLOY_ROOT_RE = re.compile(
    r"^/var/task/|^/opt/python/|^/usr/src/app/|^/usr/src/|^/srv/app/|^/app/|^/code/|^/workspace/"
    r"|^/github/workspace/|^/home/runner/work/[^/]+/[^/]+/|^/builds/[^/]+/[^/]+/"
    r"|^/var/lib/jenkins/workspace/[^/]+/|^/home/circleci/project/|^/opt/atlassian/pipelines/agent/build/"
    r"|^/var/www/[^/]+/(?:current/)?|^/opt/app/|^/srv/[^/]+/current/|^/home/site/wwwroot/"
)
# A release folder: a timestamp, a date, a version or a commit hash (Capistrano, Deployer,
# CodeDeploy, Elastic Beanstalk bundles); the application's paths start after the last one.
_RELEASE_SEGMENT_RE = re.compile(
    r"^(?:\d{8,14}(?:[-_.T]?\d{2,6})*"
    r"|\d{4}-\d{2}-\d{2}(?:[T_-][\d:.-]{2,20})?"
    r"|v?\d+(?:\.\d+){1,3}(?:[-+][\w.]{1,40})?"
    r"|(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}"
    r"|d-[A-Z0-9]{9})$"
)
_PSEUDO_FILE_RE = re.compile(r"^<[^>]*>$|^<ipython-input-|^(?:Cell|Input) In ?\[")


def norm_path(path: str) -> str:
    """Forward slashes, a lower-case drive letter, ``.py`` for ``.pyc``."""
    p = path.replace("\\", "/")
    if len(p) > 2 and p[1] == ":" and p[0].isalpha():
        p = p[0].lower() + p[1:]
    if p.endswith(".pyc"):
        p = p[:-1]
    return p


def is_pseudo_file(path: str) -> bool:
    """Code typed at a prompt or generated at run time (``<stdin>``, IPython cells)."""
    return _PSEUDO_FILE_RE.match(path) is not None


def library_path(path: str) -> str | None:
    """``path`` relative to its library import root, or None when it is not library code."""
    p = norm_path(path)
    m = _LIBRARY_ROOT_RE.match(p)
    return p[m.end() :] if m else None


def strip_deploy_root(path: str, app_roots: Iterable[str] = ()) -> str | None:
    """``path`` without a configured or known deploy root; None when no root is recognised."""
    p = norm_path(path)
    for root in sorted((norm_path(r) for r in app_roots if r), key=len, reverse=True):
        r = root if root.endswith("/") else root + "/"
        if p.startswith(r):
            return p[len(r) :]
        if r.startswith("/") and len(r) > 1 and r in p:
            return p[p.index(r) + len(r) :]
    m = _DEPLOY_ROOT_RE.match(p)
    if m:
        p = p[m.end() :]
    parts = p.split("/")
    release = max((i for i, seg in enumerate(parts[:-1]) if _RELEASE_SEGMENT_RE.match(seg)), default=-1)
    if release >= 0 and (p.startswith("/") or m):
        return "/".join(parts[release + 1 :])
    return p if m else None


def identity_name(path: str) -> str:
    """The file name (``pkg/__init__.py`` for an ``__init__``): the location-free part of a path."""
    parts = [x for x in norm_path(path).split("/") if x and x != "."]
    if not parts:
        return ""
    if parts[-1] in ("__init__.py", "__main__.py") and len(parts) > 1:
        return "/".join(parts[-2:])
    return parts[-1]


@dataclass
class RepoIndex:
    """The repository's files, for mapping frame paths by longest common path suffix.

    A match counts when it covers the whole frame path, the whole repository path, or at least
    two components; a tie between candidates is ambiguous and maps to nothing.
    """

    files: tuple[str, ...]
    _by_name: dict[str, list[tuple[str, ...]]] = field(default_factory=dict, init=False, repr=False)
    _cache: dict[str, str | None] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._hash = hash(self.files)
        for f in self.files:
            parts = tuple(x for x in norm_path(f).split("/") if x and x != ".")
            if parts:
                self._by_name.setdefault(parts[-1], []).append(parts)

    def __hash__(self) -> int:  # configs holding an index are hashable (computed once: it is big)
        return self._hash

    def map(self, path: str) -> str | None:
        """The repository file ``path`` runs from, or None."""
        if path in self._cache:
            return self._cache[path]
        fparts = [x for x in norm_path(path).split("/") if x and x not in (".", "~")]
        best_k, best = 0, []
        for cparts in self._by_name.get(fparts[-1] if fparts else "", ()):
            k = 0
            while k < min(len(cparts), len(fparts)) and cparts[-1 - k] == fparts[-1 - k]:
                k += 1
            if not (k == len(cparts) or k == len(fparts) or k >= 2):
                continue
            if k > best_k:
                best_k, best = k, [cparts]
            elif k == best_k:
                best.append(cparts)
        found = "/".join(best[0]) if len(best) == 1 else None
        if len(self._cache) < 100_000:
            self._cache[path] = found
        return found


def app_path(path: str, app_roots: Iterable[str] = (), repo: RepoIndex | None = None) -> str:
    """The application-relative path of ``path`` (see the module docstring)."""
    if repo is not None:
        mapped = repo.map(path)
        if mapped is not None:
            return mapped
    p = norm_path(path)
    stripped = strip_deploy_root(p, app_roots)
    if stripped is not None:
        return stripped
    if p.startswith(("/", "~")) or (len(p) > 2 and p[1] == ":"):
        parts = [x for x in p.split("/") if x and x not in (".", "~")]
        return "/".join(parts[-_KEEP_COMPONENTS:])
    while p.startswith("./"):
        p = p[2:]
    return p
