"""The source tree FetchSource stores on AWS, and the read-only repository ValidatePatch reads it
through (so ValidatePatch needs no code host and no token)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from selfheal.adapters.tree_snapshot import SnapshotSource, snapshot_tree
from selfheal.errors import MalformedInput

REV = "a" * 40


class FolderSource:
    """A ``SourceRepository`` whose checkout is a prepared folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def default_branch(self) -> str:
        return "main"

    def resolve(self, ref: str | None = None) -> str:
        return REV

    def list_files(self, revision: str) -> list[str]:
        return []

    def read_file(self, path: str, revision: str) -> str | None:
        return None

    @contextmanager
    def checkout(self, revision: str) -> Iterator[Path]:
        yield self.root


def test_round_trip_keeps_files_and_modes_and_drops_vcs_metadata(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "handler.py").write_text("x = 1\n")
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "run.sh").chmod(0o755)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]\n")
    archive = snapshot_tree(FolderSource(tmp_path), REV)
    source = SnapshotSource(archive, REV)
    assert source.list_files(REV) == ["app/handler.py", "run.sh"]
    assert source.read_file("app/handler.py", REV) == "x = 1\n"
    assert source.read_file("missing.py", REV) is None
    with source.checkout(REV) as root:
        assert (root / "app" / "handler.py").read_text() == "x = 1\n"
        assert (root / "run.sh").stat().st_mode & 0o100
        assert not (root / ".git").exists()
    with pytest.raises(MalformedInput):
        source.list_files("b" * 40)  # a snapshot is of one revision only


def test_a_hostile_archive_cannot_write_outside_the_tree(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, kind in (("../escaped.py", tarfile.REGTYPE), ("/abs.py", tarfile.REGTYPE),
                           ("link", tarfile.SYMTYPE), ("ok.py", tarfile.REGTYPE)):
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = 2
                tar.addfile(info, io.BytesIO(b"x\n"))
    with SnapshotSource(buf.getvalue(), REV).checkout(REV) as root:
        assert sorted(p.name for p in root.rglob("*")) == ["ok.py"]
        assert not (root.parent / "escaped.py").exists()
