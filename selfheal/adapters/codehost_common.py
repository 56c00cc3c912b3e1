"""What the API code-host adapters (``github.py``, ``gitlab.py``) share: turning their client's
failures into errors named by condition, which tree entries are regular files, blob bytes as
text, materialising a tree in a temporary folder, and checking the files of a commit.

No client library is imported here: each adapter names its own exception class, how to read a
failure's HTTP status and how to classify it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import requests

from selfheal.adapters.local_git import safe_repo_path
from selfheal.errors import EditRejected, SelfhealError

REGULAR_MODES = ("100644", "100755")  # git modes of the files we read and write (not links, submodules)


class HostApiCalls:
    """``_call`` and ``_find`` for an adapter over a code host's HTTP API.

    Subclasses set ``_host_error`` (the client library's exception class), may set
    ``_call_kwargs`` (passed to every call) and implement ``_status`` and ``_classify``.
    """

    _host_error: ClassVar[type[Exception]]
    _call_kwargs: ClassVar[dict[str, Any]] = {}

    def _status(self, exc: Exception) -> int | None:
        raise NotImplementedError

    def _classify(self, exc: Exception, what: str) -> SelfhealError:
        raise NotImplementedError

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``; a host or network failure raises its classified error."""
        try:
            return fn(*args, **kwargs, **self._call_kwargs)
        except (self._host_error, requests.exceptions.RequestException) as exc:
            raise self._classify(exc, what) from exc

    def _find(self, what: str, fn: Any, *args: Any, missing: tuple[int, ...] = (404,), **kwargs: Any) -> Any:
        """Like ``_call``, but None when the host answers with a status in ``missing``."""
        try:
            return fn(*args, **kwargs, **self._call_kwargs)
        except self._host_error as exc:
            if self._status(exc) in missing:
                return None
            raise self._classify(exc, what) from exc
        except requests.exceptions.RequestException as exc:
            raise self._classify(exc, what) from exc


def readable_path(path: str) -> bool:
    """Whether ``path`` is a safe repository-relative path (``read_file`` answers None otherwise)."""
    try:
        safe_repo_path(path)
    except EditRejected:
        return False
    return True


@contextmanager
def temporary_tree(prefix: str) -> Iterator[Path]:
    """An empty folder to materialise a tree in, removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        root = tmp / "tree"
        root.mkdir()
        yield root
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_blob(root: Path, path: str, mode: str, data: bytes) -> None:
    """Write one regular file of a tree under ``root`` (executable when ``mode`` says so)."""
    target = root / safe_repo_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    if mode == "100755":
        target.chmod(0o755)


def check_commit_files(files: dict[str, str], modes: dict[str, str]) -> None:
    """Refuse unsafe paths and paths that are not regular files at the base (``modes``: path ->
    git mode of the base tree; a path missing from it is a new regular file)."""
    for path in sorted(files):
        safe_repo_path(path)
        mode = modes.get(path, "100644")
        if mode not in REGULAR_MODES:
            raise EditRejected(f"{path} is not a regular file in the repository (mode {mode})")
