"""Per-file read positions, as log shippers keep them: each occurrence in a log is counted once.

A ``FileCursor`` is (path, device, inode, a hash of the file's first bytes, byte offset). Reading
resumes at the offset unless the file is not the one the cursor describes any more: another
inode (rotated by rename), a size below the offset (truncated), or other first bytes (rewritten
in place, ``copytruncate`` followed by new writes): then it starts from the beginning. Cursors
live in ``<home>/cursors.db`` (SQLite, shared by ``ingest``, ``ingest --follow`` and ``watch``);
``from_start`` re-reads a file on purpose. Offsets only move after the lines before them are in
the error store, so a crash re-reads at most the last chunk; it never skips one.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CURSOR_DB_NAME = "cursors.db"
HEAD_BYTES = 1024  # bytes hashed to recognise a file (fewer while the file is shorter)

_SCHEMA = """CREATE TABLE IF NOT EXISTS cursors (
    path TEXT PRIMARY KEY, device INTEGER NOT NULL, inode INTEGER NOT NULL,
    head_len INTEGER NOT NULL, head_hash TEXT NOT NULL, offset INTEGER NOT NULL)"""


@dataclass(frozen=True)
class FileCursor:
    """Where reading of one file stopped, and how to recognise that file again."""

    path: str
    device: int
    inode: int
    head_len: int
    head_hash: str
    offset: int


def _head(fh: object, length: int) -> str:
    seek, read = getattr(fh, "seek"), getattr(fh, "read")  # noqa: B009 - any binary file object
    seek(0)
    return hashlib.sha256(read(length)).hexdigest()


class CursorStore:
    """Cursors in one SQLite file; safe for the processes sharing a home."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conn().execute(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._local.conn = conn
        return conn

    def get(self, path: Path) -> FileCursor | None:
        key = str(Path(path).resolve())
        row = self._conn().execute("SELECT path, device, inode, head_len, head_hash, offset FROM cursors "
                                   "WHERE path=?", (key,)).fetchone()
        return None if row is None else FileCursor(*row)

    def put(self, cursor: FileCursor) -> None:
        self._conn().execute("INSERT OR REPLACE INTO cursors VALUES (?, ?, ?, ?, ?, ?)",
                             (cursor.path, cursor.device, cursor.inode, cursor.head_len, cursor.head_hash,
                              cursor.offset))


class CursorReader:
    """Reads one file from its cursor: ``lines()`` streams what is new, ``commit()`` moves the
    cursor past what was read. ``rotated`` tells that the cursor described another file."""

    def __init__(self, path: Path, store: CursorStore, *, from_start: bool = False,
                 legacy_offset: int | None = None) -> None:
        self.path = Path(path)
        self.store = store
        self.rotated = False
        self.start = self._start(from_start, legacy_offset)
        self.offset = self.start  # end of the bytes consumed so far

    def _start(self, from_start: bool, legacy_offset: int | None) -> int:
        cursor = self.store.get(self.path)
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return 0
        if from_start:
            return 0
        if cursor is None:
            # A position saved by an older selfheal (watch's offset file) is trusted once.
            return legacy_offset if legacy_offset is not None and legacy_offset <= st.st_size else 0
        same = (cursor.device, cursor.inode) == (st.st_dev, st.st_ino) and st.st_size >= cursor.offset
        if same:
            with self.path.open("rb") as fh:
                same = _head(fh, cursor.head_len) == cursor.head_hash
        self.rotated = not same
        return cursor.offset if same else 0

    def lines(self) -> Iterator[str]:
        """Every line after the cursor (a last line without its newline included), decoded
        leniently; ``offset`` advances as each line is handed out."""
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            for raw in fh:
                self.offset += len(raw)
                yield raw.decode("utf-8", "replace").rstrip("\r\n")

    def complete_lines(self) -> tuple[list[str], int]:
        """(the complete lines after the cursor, the offset after them); a partial last line
        waits. For polling: the cursor moves only with ``commit``."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return [], self.offset
        if size < self.offset or self._replaced():
            self.rotated, self.offset = True, 0
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        end = data.rfind(b"\n")
        if end < 0:
            return [], self.offset
        return data[: end + 1].decode("utf-8", "replace").splitlines(), self.offset + end + 1

    def _replaced(self) -> bool:
        cursor = self.store.get(self.path)
        if cursor is None:
            return False
        st = self.path.stat()
        return (cursor.device, cursor.inode) != (st.st_dev, st.st_ino)

    def commit(self, offset: int | None = None) -> None:
        """Save the cursor at ``offset`` (default: everything read so far)."""
        at = self.offset if offset is None else offset
        self.offset = at
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        head_len = min(HEAD_BYTES, st.st_size)
        with self.path.open("rb") as fh:
            head = _head(fh, head_len)
        self.store.put(FileCursor(str(self.path.resolve()), st.st_dev, st.st_ino, head_len, head, at))


class CursorFollower:
    """``watch``'s follower on the shared cursor: ``read`` polls, ``commit`` saves."""

    def __init__(self, path: Path, store: CursorStore, *, from_start: bool = False,
                 legacy_offset: int | None = None) -> None:
        self.reader = CursorReader(path, store, from_start=from_start, legacy_offset=legacy_offset)

    @property
    def offset(self) -> int:
        return self.reader.offset

    def read(self, start: int | None = None) -> tuple[list[str], int]:
        if start is not None:
            self.reader.offset = start
        return self.reader.complete_lines()

    def commit(self, offset: int) -> None:
        self.reader.commit(offset)
