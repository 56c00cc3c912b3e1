"""The extractor against the project's own labelled samples (tests/corpus/tracebacks).

Every sample must come out exactly as labelled: the number of tracebacks and, for each, every
link's type, first message line, frames (file, line, function) and link kind. When the shared
scorer is present beside the checkout it is also run, unchanged, on this folder through the CLI.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from selfheal.domain.extract import extract_tracebacks

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus" / "tracebacks"
SAMPLES = sorted(p.stem for p in CORPUS.glob("*.json"))


def _first_line(message: str | None) -> str:
    lines = (message or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def _expected(link: dict[str, Any]) -> tuple[Any, ...]:
    frames = [(f["file"], f["line"], f["function"]) for f in link["frames"]]
    return link["type"], _first_line(link["message"]), frames, link["link_from_previous"]


def _found(link: dict[str, Any]) -> tuple[Any, ...]:
    frames = [(f["file"], f["line"], f["function"]) for f in link["frames"]]
    return link["type"], _first_line(link["message"]), frames, link["link"]


def test_the_corpus_covers_every_new_form() -> None:
    tags = set()
    for stem in SAMPLES:
        tags.update(json.loads((CORPUS / f"{stem}.json").read_text())["tags"])
    assert {"stacktrace_lists", "pretty_printed_json", "no_trailing_exception_line", "wrapped_function_name",
            "wrapped_source_line", "wrapped_path", "unindented_frames", "glued_header"} <= tags


@pytest.mark.parametrize("stem", SAMPLES)
def test_sample_parses_exactly_as_labelled(stem: str) -> None:
    label = json.loads((CORPUS / f"{stem}.json").read_text())
    # newline="" as the CLI reads: "\r" stays inside lines.
    with (CORPUS / label["text_file"]).open(encoding="utf-8", newline="") as fh:
        found = [tb.to_dict() for tb in extract_tracebacks(fh)]
    assert [[_found(link) for link in tb["chain"]] for tb in found] == [
        [_expected(link) for link in tb["chain"]] for tb in label["tracebacks"]
    ]


def test_shared_scorer_gives_exact_results_through_the_cli(shared_dir: Path) -> None:
    script = Path(sys.executable).parent / "selfheal"
    command = [str(script), "parse", "--json", "-"] if script.exists() else [
        sys.executable, "-m", "selfheal.cli.parse", "--json", "-"]
    proc = subprocess.run(
        [sys.executable, str(shared_dir / "bench" / "score_parse.py"), str(CORPUS), "--show-misses", "--",
         *command], capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    metrics = dict(re.findall(r"(\w+)=([\d.]+)", proc.stdout.strip().splitlines()[-1]))
    assert metrics["final_exact"] == "1.000", proc.stdout
    assert metrics["message"] == "1.000", proc.stdout
    assert (metrics["false_pos"], metrics["errors"]) == ("0", "0"), proc.stdout
    assert int(metrics["samples"]) == len(SAMPLES)


def test_a_hostile_pretty_printed_document_is_read_as_lines() -> None:
    """A ``"stackTrace": [`` line opens a document; one nested deeper than the JSON parser
    allows (or never closed) is read as ordinary lines, and the traceback after it is found."""
    from selfheal.domain.extract import extract_from_text

    deep = '{\n  "stackTrace": [\n' + "[\n" * 1500 + "]\n" * 1500 + "]\n}\n"  # within the line cap
    tail = 'Traceback (most recent call last):\n  File "/app/x.py", line 1, in f\n    g()\nKeyError: 1\n'
    found = extract_from_text(deep + tail)
    assert [tb.final.type for tb in found] == ["KeyError"]
