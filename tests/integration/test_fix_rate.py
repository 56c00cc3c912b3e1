"""bench/fix_rate.py end to end on a few crash repositories (real git, real validation, subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "fix_rate.py"
CRASHES = ROOT / "bench" / "crashes"


def run_bench(*args: str) -> dict:
    proc = subprocess.run([sys.executable, str(BENCH), "--json", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def expected(name: str) -> str:
    return json.loads((CRASHES / name / "case.json").read_text())["expected"]


@pytest.mark.timeout(600)
def test_outcomes_match_the_case_expectations():
    names = ["inventory_webhook", "pagination_api", "shipping_labels"]
    report = run_bench(*names)
    assert report["validated"] is True
    by_name = {r["name"]: r for r in report["results"]}
    assert set(by_name) == set(names)
    for name in names:
        result = by_name[name]
        want = "fixed" if expected(name) == "fix" else "abstained"
        assert result["outcome"] == want, result
        assert result["matches"] is True
    fixed = by_name["inventory_webhook"]
    assert fixed["attempts"] == 1 and '.get("lines", [])' in fixed["diff"]
    # the guards stop the crash but answer 200 instead of 400: validation rejects each one
    rejected = by_name["pagination_api"]["rejected"]
    assert len(rejected) == 2 and all("reproduction" in r for r in rejected)
    assert "dependency is missing" in by_name["shipping_labels"]["reason"]
    assert report["totals"] == {"fixed": 1, "abstained": 2}


@pytest.mark.timeout(600)
def test_without_validation_the_independent_check_reports_wrong():
    report = run_bench("pagination_api", "--no-validate")
    (result,) = report["results"]
    assert report["validated"] is False
    assert result["outcome"] == "wrong"
    assert "repro still fails" in result["reason"]
