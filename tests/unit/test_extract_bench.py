"""The throughput benchmark runs end to end on a small log (a smoke test: no timing assertions)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_benchmark_prints_side_by_side_ratios(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "parse_throughput.py"), "--mb", "1", "--keep", str(log)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"RATIO extract/baseline = \d+\.\d+", out), out
    assert re.search(r"peak RSS \d+ MB", out), out
    assert re.search(r"RATIO decode\+extract/\(gzip\+json\) = \d+\.\d+", out), out
    # Both densities side by side (an ordinary day and a storm), the CLI included.
    densities = [float(x) for x in re.search(r"^tracebacks per MB\s+(.*)$", out, re.M).group(1).split()]  # type: ignore[union-attr]
    assert len(densities) == 2 and densities[1] > 10 * densities[0], out
    assert len(re.search(r"^selfheal parse --json, CPU \(s\)\s+(.*)$", out, re.M).group(1).split()) == 2  # type: ignore[union-attr]
    assert re.search(r"RATIO storm parse --json/scan = \d+\.\d+ at \d+ tracebacks per MB", out), out
    written = int(re.search(r"(\d+) tracebacks written", out).group(1))  # type: ignore[union-attr]
    found = int(re.search(r"(\d+) tracebacks\n", out).group(1))  # type: ignore[union-attr]
    assert log.stat().st_size > 1_000_000
    assert found == written > 0  # every generated traceback, whatever its format, is found once
