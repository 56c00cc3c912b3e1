"""Lending the writable paths to the sandbox uid (root only) gives every file back to its owner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from selfheal.validation.bwrap import lend


def test_every_file_goes_back_to_its_own_owner(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing owners needs root")
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    mine, theirs = tree / "pkg" / "a.py", tree / "b.py"
    mine.write_text("a")
    theirs.write_text("b")
    os.chown(theirs, 1234, 4321)
    with lend([tree], 65534, 65534):
        assert {p.stat().st_uid for p in (tree, tree / "pkg", mine, theirs)} == {65534}
        (tree / "pkg" / "new.txt").write_text("made by the run")
    assert (theirs.stat().st_uid, theirs.stat().st_gid) == (1234, 4321)
    assert mine.stat().st_uid == tree.stat().st_uid == 0
    assert (tree / "pkg" / "new.txt").stat().st_uid == 0
