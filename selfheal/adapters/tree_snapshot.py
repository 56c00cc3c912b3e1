"""A source tree at one revision as a gzipped tar (an artifact), and a read-only
``SourceRepository`` over it.

On AWS, FetchSource (which holds the code host's token) stores the tree it resolved; ValidatePatch
runs model-written code and so holds no token: it reads that tree instead of the code host.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from selfheal.errors import MalformedInput
from selfheal.ports import SourceRepository

_SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".mypy_cache"}


def snapshot_tree(source: SourceRepository, revision: str) -> bytes:
    """The tree of ``source`` at ``revision`` as ``.tar.gz`` bytes (no VCS metadata)."""
    buf = io.BytesIO()
    with source.checkout(revision) as root, tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if _SKIP_DIRS & set(rel.parts) or path.is_symlink() or not path.is_file():
                continue
            tar.add(path, arcname=rel.as_posix(), recursive=False)
    return buf.getvalue()


class SnapshotSource:
    """``SourceRepository`` over a ``snapshot_tree`` archive of ``revision`` (read only)."""

    def __init__(self, archive: bytes, revision: str, base_branch: str = "main") -> None:
        self._archive = archive
        self._revision = revision
        self._base = base_branch

    def _open(self) -> tarfile.TarFile:
        return tarfile.open(fileobj=io.BytesIO(self._archive), mode="r:gz")

    def _check(self, revision: str) -> None:
        if revision != self._revision:
            raise MalformedInput(f"this tree snapshot is of {self._revision[:12]}, not {revision[:12]}")

    def default_branch(self) -> str:
        return self._base

    def resolve(self, ref: str | None = None) -> str:
        return self._revision

    def list_files(self, revision: str) -> list[str]:
        self._check(revision)
        with self._open() as tar:
            return sorted(m.name for m in tar.getmembers() if m.isfile())

    def read_file(self, path: str, revision: str) -> str | None:
        self._check(revision)
        with self._open() as tar:
            try:
                member = tar.extractfile(PurePosixPath(path).as_posix())
            except KeyError:
                return None
            if member is None:
                return None
            try:
                return member.read().decode("utf-8")
            except UnicodeDecodeError:
                return None

    @contextmanager
    def checkout(self, revision: str) -> Iterator[Path]:
        """The tree in a fresh temporary directory (regular files only; no path leaves it)."""
        self._check(revision)
        with tempfile.TemporaryDirectory(prefix="selfheal-tree-") as tmp, self._open() as tar:
            root = Path(tmp)
            for member in tar.getmembers():
                target = (root / member.name).resolve()
                if not member.isfile() or not target.is_relative_to(root.resolve()):
                    continue  # only regular files inside the tree: no links, devices or ../
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is not None:
                    target.write_bytes(source.read())
                    target.chmod(0o755 if member.mode & 0o100 else 0o644)
            yield root
