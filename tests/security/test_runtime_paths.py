"""Which of our import paths the sandboxed tests get: a layer's site directory, never our own
source roots (a project's ``tests`` package must not collide with ours)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from selfheal.validation import runtime_paths


def test_layers_in_source_roots_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layer = tmp_path / "opt" / "python" / "lib" / "python3.11" / "site-packages"
    (layer / "pytest").mkdir(parents=True)
    task_root = tmp_path / "task"  # holds pytest too (vendored into the function)
    (task_root / "pytest").mkdir(parents=True)
    source_root = tmp_path / "checkout"  # what pytest's rootdir insertion puts on sys.path
    (source_root / "tests").mkdir(parents=True)
    missing = tmp_path / "gone" / "site-packages"
    monkeypatch.setattr(
        sys, "path", [str(source_root), str(layer), str(task_root), str(missing), "", *sys.path]
    )
    try:
        found = runtime_paths.runtime_import_paths(refresh=True)
        assert found == [str(layer.resolve()), str(task_root.resolve())]
    finally:
        monkeypatch.undo()
        runtime_paths.runtime_import_paths(refresh=True)
