"""The extractor's hot paths decide exactly as its general path (differential test).

Inside a traceback, ``accept_plain``/``_fast_accept`` classify plain frame and source lines
without the general state machine, and plain blocks reuse the frames parsed on the way instead
of re-parsing the block (``FAST_BUILD``). Both must give the same tracebacks as the general
path on every text we have: the project's corpus, the shared corpus when present, and a
generated service log with every format the throughput benchmark writes.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import selfheal.domain.extract.runs as runs
import selfheal.domain.extract.scanner as scanner
from selfheal.domain.extract import extract_tracebacks
from selfheal.domain.traceback import Link

ROOT = Path(__file__).resolve().parents[2]


def _link(link: Link) -> dict[str, Any]:
    """Everything a link holds, frame sources included (``to_dict`` leaves them out)."""
    return {"type": link.type, "message": link.message, "link": link.link, "is_group": link.is_group,
            "frames": [(f.file, f.line, f.function, f.source) for f in link.frames],
            "elided": link.elided_frames, "more": link.more_exceptions,
            "exceptions": [[_link(sub) for sub in t.chain] for t in link.exceptions]}


def _extract(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        return [{"chain": [_link(link) for link in tb.chain], "raw": tb.raw, "truncated": tb.truncated,
                 "lines": (tb.first_line, tb.last_line)} for tb in extract_tracebacks(fh)]


def _general_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanner, "FAST_BUILD", False)
    monkeypatch.setattr(runs, "RUNS", False)
    monkeypatch.setattr(scanner.TracebackScanner, "accept_plain", lambda self, block, raw, lineno: 0)
    monkeypatch.setattr(scanner.TracebackScanner, "_fast_accept", lambda self, block, content, lineno: False)


def _texts(tmp_path: Path) -> Iterator[Path]:
    yield from sorted((ROOT / "tests" / "corpus" / "tracebacks").glob("*.txt"))
    for cand in (ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        if (cand / "bench" / "tracebacks").is_dir():
            yield from sorted((cand / "bench" / "tracebacks").glob("*.txt"))
            break
    script = ROOT / "bench" / "parse_throughput.py"
    spec = importlib.util.spec_from_file_location("bench_parse_throughput", script)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    log = tmp_path / "storm.log"
    bench.generate(log, 1.0, tb_per_mb=90)  # with only the project corpus (a fresh clone): over 100
    yield log


def test_hot_paths_match_the_general_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = list(_texts(tmp_path))
    fast = {p: _extract(p) for p in texts}
    _general_only(monkeypatch)
    checked = 0
    for p in texts:
        assert _extract(p) == fast[p], p.name
        checked += len(fast[p])
    assert checked > 100
