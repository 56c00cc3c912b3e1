"""``SourceRepository`` over a plain directory (a project that is not a git repository).

A directory has one revision, ``WORKTREE``: what is on disk now. ``checkout`` copies the tree into
a temporary directory so validation never writes into the user's files.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selfheal.errors import SourceNotFound

WORKTREE = "WORKTREE"
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "__pycache__", "node_modules", ".tox",
                       ".mypy_cache", ".pytest_cache", ".ruff_cache", ".selfheal", ".eggs"})
MAX_FILE_BYTES = 2_000_000


class DirectoryRepository:
    """Read access to the files under ``path`` (revision ``WORKTREE`` only)."""

    def __init__(self, path: str | Path) -> None:
        self.root = Path(path).resolve()
        if not self.root.is_dir():
            raise SourceNotFound(f"{self.root} is not a directory")

    def default_branch(self) -> str:
        return WORKTREE

    def resolve(self, ref: str | None = None) -> str:
        if ref not in (None, WORKTREE):
            raise SourceNotFound(
                f"{self.root} is a plain directory: only revision {WORKTREE} exists, not {ref!r}")
        return WORKTREE

    def list_files(self, revision: str) -> list[str]:
        self.resolve(revision)
        out: list[str] = []
        for path in self._walk(self.root):
            out.append(path.relative_to(self.root).as_posix())
        return sorted(out)

    def read_file(self, path: str, revision: str) -> str | None:
        self.resolve(revision)
        target = (self.root / path).resolve()
        if not target.is_relative_to(self.root) or not target.is_file():
            return None
        if target.stat().st_size > MAX_FILE_BYTES:
            return None
        try:
            return target.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            return None

    @contextmanager
    def checkout(self, revision: str) -> Iterator[Path]:
        self.resolve(revision)
        with tempfile.TemporaryDirectory(prefix="selfheal-src-") as tmp:
            dest = Path(tmp) / self.root.name
            shutil.copytree(self.root, dest, symlinks=True, ignore=shutil.ignore_patterns(*SKIP_DIRS))
            yield dest

    def _walk(self, directory: Path) -> Iterator[Path]:
        for entry in sorted(directory.iterdir()):
            if entry.is_symlink():
                continue  # a link may point outside the project
            if entry.is_dir():
                if entry.name not in SKIP_DIRS:
                    yield from self._walk(entry)
            elif entry.is_file():
                yield entry
