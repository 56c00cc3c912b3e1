"""What the extractor's differential tests compare and over which texts: a full dump of found
tracebacks (frame sources included, which ``to_dict`` leaves out), the labelled corpora (the
project's own, and ``../shared``'s when it is beside the repository) and a generated storm log."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from selfheal.domain.traceback import Link, Traceback

ROOT = Path(__file__).resolve().parents[2]


def link_dump(link: Link) -> dict[str, Any]:
    """Everything a link holds, frame sources and nested exception groups included."""
    return {"type": link.type, "message": link.message, "link": link.link, "is_group": link.is_group,
            "frames": [(f.file, f.line, f.function, f.source) for f in link.frames],
            "elided": link.elided_frames, "more": link.more_exceptions,
            "exceptions": [[link_dump(sub) for sub in t.chain] for t in link.exceptions]}


def dump(found: Iterable[Traceback]) -> list[dict[str, Any]]:
    """``link_dump`` of every link, with the raw text, truncation and line numbers."""
    return [{"chain": [link_dump(link) for link in tb.chain], "raw": tb.raw, "truncated": tb.truncated,
             "lines": (tb.first_line, tb.last_line)} for tb in found]


def corpus_files() -> list[Path]:
    """The project's labelled samples, then the shared corpus when it is there (skipped quietly)."""
    files = sorted((ROOT / "tests" / "corpus" / "tracebacks").glob("*.txt"))
    for cand in (ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        if (cand / "bench" / "tracebacks").is_dir():
            files += sorted((cand / "bench" / "tracebacks").glob("*.txt"))
            break
    return files


def storm_log(path: Path, mb: float) -> Path:
    """``bench/parse_throughput.py``'s generated log at storm density (90 tracebacks per MB)."""
    script = ROOT / "bench" / "parse_throughput.py"
    spec = importlib.util.spec_from_file_location("bench_parse_throughput", script)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    bench.generate(path, mb, tb_per_mb=90)
    return path
