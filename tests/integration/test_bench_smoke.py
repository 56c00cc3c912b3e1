"""Smoke test of every script under bench/: each runs at its smallest size as a real subprocess,
exits 0 and prints its headline (ratio) line. No timing is asserted: the numbers depend on the
machine; only that the benchmark still runs end to end and reports what it promises."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
TIMEOUT = 120

# script -> (smallest-size arguments, the headline line it must print)
CASES = {
    "parse_throughput.py": (["--mb", "1"], r"^RATIO extract/baseline = \d+\.\d+ .*peak RSS \d+ MB"),
    "ingest_cost.py": (["--events", "100", "--unique", "50", "--distribution", "zipf", "--imports", "1"],
                       r"^DynamoDB cost / guidance\s+\d+\.\d+\s*$"),
    "prompt_size.py": ([], r"^PASS: ratio \d+\.\d+ \(target <= 0\.3\)"),
    "fix_rate.py": (["inventory_webhook"],
                    r"^fixed 1 / abstained 0 / wrong 0 of 1 crash repos "
                    r"\(model rules, through ingest -> fix\)"),
    "validation_overhead.py": (["--repeats", "1", "--tests", "5"],
                               r"^target <= 1\.5 x direct, fix only: (met|NOT met) \(\d+\.\d+\)"),
    "workflow_overhead.py": (["--runs", "2"], r"ratio engine/plain = \d+\.\d+x"),
}


def load_bench(script: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{Path(script).stem}", BENCH / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def run_all_module() -> ModuleType:
    return load_bench("run_all.py")


def run_script(script: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH / script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


def test_every_bench_script_is_covered():
    scripts = {p.name for p in BENCH.glob("*.py")} - {"run_all.py"}
    assert scripts == set(CASES)


@pytest.mark.timeout(TIMEOUT + 30)
@pytest.mark.parametrize("script", sorted(CASES))
def test_bench_script_runs_and_prints_its_ratio(script: str):
    args, headline = CASES[script]
    proc = run_script(script, args)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    assert re.search(headline, proc.stdout, re.MULTILINE), proc.stdout[-3000:]
    # run_all.py reads the same output: its parser must still understand it
    bench = next(b for b in run_all_module().BENCHES if b.script == script)
    headlines = bench.parse(proc.stdout)
    assert headlines and all(h.measured for h in headlines)


@pytest.mark.timeout(TIMEOUT + 30)
def test_run_all_summarises_what_it_ran():
    proc = subprocess.run([sys.executable, str(BENCH / "run_all.py"), "--quick", "--only", "prompt_size",
                           "--only", "fix_rate", "--json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {r["name"]: r for r in json.loads(proc.stdout)}
    assert set(results) == {"prompt_size", "fix_rate"}
    assert all(r["problem"] == "" and r["returncode"] == 0 for r in results.values())
    fix = {h["metric"]: h for h in results["fix_rate"]["headlines"]}
    totals = fix["fixed / abstained / wrong (model rules, through ingest -> fix)"]
    assert totals["measured"] == "1 / 0 / 0 of 1"
    assert fix["pull requests verified"]["measured"] == "1/1"
    prompt = {h["metric"]: h for h in results["prompt_size"]["headlines"]}
    assert prompt["every enclosing function present"]["measured"] == "yes"


def test_run_all_reports_an_unreadable_output_as_a_problem():
    run_all = run_all_module()
    with pytest.raises(ValueError, match="CloudWatch ratio|extract ratio|peak RSS"):
        run_all.parse_parse_throughput("RATIO extract/baseline = 1.20  (target <= 4)\n")
    bench = run_all.Bench("broken", "no_such_script.py", (), (), run_all.parse_prompt_size)
    result = run_all.run(bench, quick=True)
    assert result.returncode == 2 and result.problem.startswith("exit status 2")
    assert result.headlines == []


@pytest.mark.timeout(TIMEOUT + 30)
def test_ingest_cost_json_stays_parseable_past_100_invocations():
    # Powertools printed its (disabled) metric set to stdout once a metric reached 100 values
    proc = run_script("ingest_cost.py", ["--events", "120", "--batch-size", "1", "--unique", "50",
                                         "--distribution", "zipf", "--imports", "1", "--json"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    (run,) = report["runs"]
    assert run["batches"] == 120 and run["max_excess_writes"] == 0



def test_fix_rate_check_reports_a_silent_failing_test_command(tmp_path: Path):
    # a test command that fails without printing anything used to raise IndexError here
    fix_rate = load_bench("fix_rate.py")
    case_dir, tree = tmp_path / "case", tmp_path / "tree"
    case_dir.mkdir()
    (case_dir / "repro.py").write_text("raise SystemExit(0)\n")
    tree.mkdir()
    (tree / "app.py").write_text("x = 1\n")
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "base"],
                 ["checkout", "-qb", "selfheal/fix"]):
        fix_rate._git(tree, *argv)
    (tree / "app.py").write_text("x = 2\n")
    fix_rate._git(tree, "commit", "-qam", "fix")
    fix_rate._git(tree, "checkout", "-q", "main")
    case = fix_rate.Case("silent", case_dir, "", "fix", [sys.executable, "-c", "raise SystemExit(3)"])
    problem = fix_rate.independent_check(case, tree, "selfheal/fix", 0, tmp_path)
    assert problem == "tests fail after the patch: "
    assert (tmp_path / "check-selfheal-fix" / "app.py").read_text() == "x = 2\n"  # checked on the branch
