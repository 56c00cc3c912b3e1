"""The extractor against the labelled corpus in ../shared/bench, through the real CLI.

Runs the project's scorer unchanged (``score_parse.py``) with ``selfheal parse --json -`` as the
command, then checks fingerprint grouping: every GROUPING.json group gets one fingerprint, the
renderings of one exception in each loguru sample share one, and distinct errors never collide.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(900)


def parse_command() -> list[str]:
    script = Path(sys.executable).parent / "selfheal"
    if script.exists():
        return [str(script), "parse", "--json", "-"]
    return [sys.executable, "-m", "selfheal.cli.parse", "--json", "-"]


def predicted(corpus: Path, stem: str) -> list[dict]:
    proc = subprocess.run(
        parse_command(), input=(corpus / f"{stem}.txt").read_bytes(), capture_output=True, timeout=60,
        cwd=ROOT, check=True,
    )
    return json.loads(proc.stdout)["tracebacks"]


def test_scorer_on_the_corpus(shared_dir: Path) -> None:
    bench = shared_dir / "bench"
    proc = subprocess.run(
        [sys.executable, str(bench / "score_parse.py"), str(bench / "tracebacks"), "--show-misses", "--",
         *parse_command()],
        capture_output=True, text=True, timeout=900, cwd=ROOT, check=False,
    )
    summary = proc.stdout.strip().splitlines()[-1]
    metrics = dict(re.findall(r"(\w+)=([\d.]+)", summary))
    assert float(metrics["final_exact"]) == 1.0, proc.stdout
    assert int(metrics["false_pos"]) <= 5, proc.stdout
    assert int(metrics["errors"]) == 0, proc.stdout
    assert int(metrics["samples"]) >= 100


@functools.cache
def fingerprints(corpus: Path) -> dict[str, list[str]]:
    """``{sample id: [fingerprint of each predicted traceback]}`` for the whole corpus."""
    out: dict[str, list[str]] = {}
    for side in sorted(corpus.glob("*.json")):
        if "tracebacks" in json.loads(side.read_text()):
            out[side.stem] = [t["fingerprint"] for t in predicted(corpus, side.stem)]
    return out


@pytest.fixture
def corpus_fps(shared_dir: Path) -> tuple[Path, dict[str, list[str]]]:
    corpus = shared_dir / "bench" / "tracebacks"
    return corpus, fingerprints(corpus)  # cached: the corpus is parsed once per session


def test_grouping_json_groups_get_one_fingerprint(corpus_fps: tuple[Path, dict[str, list[str]]]) -> None:
    corpus, fps = corpus_fps
    grouping = json.loads((corpus.parent / "GROUPING.json").read_text())
    assert grouping["groups"]
    for group in grouping["groups"]:
        ids = set()
        for member in group["members"]:
            stem, _, index = member.partition("#")
            ids.add(fps[stem][int(index)])
        assert len(ids) == 1, group


def test_loguru_renderings_of_one_exception_share_a_fingerprint(
    corpus_fps: tuple[Path, dict[str, list[str]]],
) -> None:
    corpus, fps = corpus_fps
    checked = 0
    for stem, ids in fps.items():
        if not stem.startswith("loguru-"):
            continue
        label = json.loads((corpus / f"{stem}.json").read_text())
        assert len(ids) == len(label["tracebacks"]), stem
        # Renderings of one exception have identical labels (types, frames with line numbers).
        by_exception: dict[str, set[str]] = defaultdict(set)
        for tb, fp in zip(label["tracebacks"], ids, strict=True):
            key = json.dumps([[link["type"], link["frames"]] for link in tb["chain"]], sort_keys=True)
            by_exception[key].add(fp)
        for key, group in by_exception.items():
            assert len(group) == 1, (stem, key)
        checked += 1
    assert checked >= 30


def test_distinct_errors_do_not_collide(corpus_fps: tuple[Path, dict[str, list[str]]]) -> None:
    corpus, fps = corpus_fps
    grouping = json.loads((corpus.parent / "GROUPING.json").read_text())
    allowed = {frozenset(m.partition("#")[0] for m in g["members"]) for g in grouping["groups"]}
    samples_by_fp: dict[str, set[str]] = defaultdict(set)
    for stem, ids in fps.items():
        for fp in ids:
            samples_by_fp[fp].add(stem)
    collisions = [s for s in samples_by_fp.values() if len(s) > 1 and frozenset(s) not in allowed]
    assert collisions == []
    with_tracebacks = [stem for stem, ids in fps.items() if ids]
    assert len(samples_by_fp) >= len(with_tracebacks) - len(allowed) >= 100
