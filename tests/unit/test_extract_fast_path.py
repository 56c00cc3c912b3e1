"""The extractor's hot paths decide exactly as its general path (differential test).

Inside a traceback, ``accept_plain``/``_fast_accept`` classify plain frame and source lines
without the general state machine, and plain blocks reuse the frames parsed on the way instead
of re-parsing the block (``FAST_BUILD``). Both must give the same tracebacks as the general
path on every text we have: the project's corpus, the shared corpus when present, and a
generated service log with every format the throughput benchmark writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import selfheal.domain.extract.runs as runs
import selfheal.domain.extract.scanner as scanner
from selfheal.domain.extract import extract_tracebacks
from tests.support.extract_cases import corpus_files, dump, storm_log


def _extract(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        return dump(extract_tracebacks(fh))


def _general_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanner, "FAST_BUILD", False)
    monkeypatch.setattr(runs, "RUNS", False)
    monkeypatch.setattr(scanner.TracebackScanner, "accept_plain", lambda self, block, raw, lineno: 0)
    monkeypatch.setattr(scanner.TracebackScanner, "_fast_accept", lambda self, block, content, lineno: False)


def _texts(tmp_path: Path) -> Iterator[Path]:
    yield from corpus_files()
    yield storm_log(tmp_path / "storm.log", 1.0)  # with only the project corpus (a fresh clone): over 100


def test_hot_paths_match_the_general_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = list(_texts(tmp_path))
    fast = {p: _extract(p) for p in texts}
    _general_only(monkeypatch)
    checked = 0
    for p in texts:
        assert _extract(p) == fast[p], p.name
        checked += len(fast[p])
    assert checked > 100
