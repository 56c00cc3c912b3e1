#!/usr/bin/env python3
"""Run every benchmark under ``bench/`` in sequence and print a summary of the headline ratios.

Each benchmark runs as its own subprocess (``sys.executable bench/<script>``) with small default
sizes (``--quick``: the smallest sizes, as the smoke test uses; ``--full``: each script's own
defaults, the sizes docs/benchmarks.md reports), its output is kept, and the
headline numbers are read from the lines the scripts print. The machine's load average is
recorded before and after each run, since every number here is measured on a shared machine.

    .venv/bin/python bench/run_all.py [--quick | --full] [--only NAME ...] [--json] [--show-output]

Exit status: 0 when every benchmark ran and printed its headline lines; 1 when one crashed,
timed out or printed something the summary cannot read. A missed target is reported in the
verdict column, not in the exit status (the scripts that check a target themselves, such as
``prompt_size.py``, exit 1 on a miss and that is reported as "ran, target missed").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


@dataclass
class Headline:
    """One number a benchmark reports, with its target and whether it meets it (None: no target)."""

    metric: str
    measured: str
    target: str
    ok: bool | None


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    parse: Callable[[str], list[Headline]]
    timeout: float = 1800.0
    exit_codes: tuple[int, ...] = (0,)


@dataclass
class Result:
    name: str
    argv: list[str]
    returncode: int | None
    seconds: float
    load_before: str
    load_after: str
    headlines: list[Headline] = field(default_factory=list)
    problem: str = ""
    output: str = ""


def _search(pattern: str, text: str, what: str) -> re.Match[str]:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise ValueError(f"no {what} line in the output")
    return match


def parse_parse_throughput(out: str) -> list[Headline]:
    ratio = float(_search(r"RATIO extract/baseline = ([\d.]+)", out, "extract ratio")[1])
    rss = _search(r"peak RSS (\d+) MB on (\d+) MB \(target", out, "peak RSS")
    cw = float(_search(r"RATIO decode\+extract/\(gzip\+json\) = ([\d.]+)", out, "CloudWatch ratio")[1])
    rss_mb, log_mb = int(rss[1]), int(rss[2])
    storm = _search(r"RATIO storm parse --json/scan = ([\d.]+) at (\d+) tracebacks per MB", out,
                    "storm ratio")
    return [
        Headline("extract / 'Traceback' in line", f"{ratio:.2f}", "<= 4", ratio <= 4),
        Headline(f"parse --json / scan at {storm[2]} tracebacks per MB", f"{float(storm[1]):.2f}", "<= 4",
                 float(storm[1]) <= 4),
        Headline(f"peak RSS on a {log_mb} MB log", f"{rss_mb} MB", "< 150 MB on 1 GB", rss_mb < 150),
        Headline("CloudWatch 1 MB decode+extract / gzip+json", f"{cw:.2f}", "<= 2", cw <= 2),
    ]


def _row(out: str, label: str) -> list[str]:
    """The value columns of one row of ingest_cost.py's table."""
    line = _search(rf"^{re.escape(label)}\s+(.*)$", out, repr(label))
    return line[1].split()


def _per_dist(dists: list[str], values: list[str]) -> str:
    return " / ".join(f"{d} {v}" for d, v in zip(dists, values, strict=True))


def parse_ingest_cost(out: str) -> list[Headline]:
    header = _search(r"^\s+((?:zipf|uniform)(?:\s+(?:zipf|uniform))*)\s*$", out, "distribution header")
    dists = header[1].split()
    excess = [int(x) for x in _row(out, "writes beyond 1/distinct (+1/new)")]
    per_1000 = _row(out, "store writes per 1,000 events, month")
    dynamo = _row(out, "DynamoDB $/month")
    lam = _row(out, "Lambda $/month")
    cold = float(_search(r"^\s+functions\.ingest\s+([\d.]+) ms", out, "cold import")[1])
    rows = [Headline("writes beyond one per distinct fingerprint per batch (+1 per new)",
                     _per_dist(dists, [str(e) for e in excess]), "0",
                     all(e == 0 for e in excess))]
    rows.append(Headline("store writes per 1,000 events (month)",
                         _per_dist(dists, per_1000),
                         "< 1,000 (one per event)", None))
    rows.append(Headline("DynamoDB $/month", _per_dist(dists, dynamo),
                         "guidance 17.08", all(float(v) <= 17.08 for v in dynamo)))
    rows.append(Headline("Lambda $/month", _per_dist(dists, lam),
                         "guidance 2.43", all(float(v) <= 2.43 for v in lam)))
    rows.append(Headline("functions.ingest cold import", f"{cold:.0f} ms", "keep heavy imports out", None))
    return rows


def parse_prompt_size(out: str) -> list[Headline]:
    m = _search(r"^(PASS|FAIL): ratio ([\d.]+) \(target <= ([\d.]+)\).*present: (yes|NO)", out, "verdict")
    ratio, target = float(m[2]), float(m[3])
    return [Headline("prompt tokens / whole files", f"{ratio:.3f}", f"<= {target}", ratio <= target),
            Headline("every enclosing function present", m[4], "yes", m[4] == "yes")]


def parse_fix_rate(out: str) -> list[Headline]:
    m = _search(r"^fixed (\d+) / abstained (\d+) / wrong (\d+) of (\d+) crash repos \(([^)]*)\); "
                r"outcome matches the expectation: (\d+)/(\d+)", out, "totals")
    fixed, abstained, wrong, total = (int(m[i]) for i in range(1, 5))
    prs = _search(r"^pull requests (\d+), verified (\d+)", out, "verified share")
    return [Headline(f"fixed / abstained / wrong ({m[5]})", f"{fixed} / {abstained} / {wrong} of {total}",
                     "wrong = 0", wrong == 0),
            Headline("pull requests verified", f"{prs[2]}/{prs[1]}", "all (verified or no PR)",
                     prs[1] == prs[2]),
            Headline("outcome matches case.json", f"{m[6]}/{m[7]}", "all", m[6] == m[7])]


def parse_validation_overhead(out: str) -> list[Headline]:
    rows = []
    pattern = r"^target <= 1\.5 x direct, ([\w ]+): (met|NOT met) \(([\d.]+)\)"
    for m in re.finditer(pattern, out, re.MULTILINE):
        rows.append(Headline(f"validation / direct tests ({m[1]})", m[3], "<= 1.5", m[2] == "met"))
    if not rows:
        raise ValueError("no 'target <= 1.5 x direct' line in the output")
    return rows


def parse_workflow_overhead(out: str) -> list[Headline]:
    m = _search(r"engine overhead\s+:\s+([\d.-]+) ms per fix; ratio engine/plain = ([\d.]+)x", out, "ratio")
    return [Headline("engine / plain handler loop", f"{float(m[2]):.2f}x", "(none stated)", None),
            Headline("engine overhead per fix", f"{float(m[1]):.0f} ms", "(none stated)", None)]


BENCHES = (
    Bench("parse_throughput", "parse_throughput.py", ("--mb", "20", "--repeat", "3"), ("--mb", "1"),
          parse_parse_throughput),
    Bench("ingest_cost", "ingest_cost.py", ("--events", "1000", "--imports", "3"),
          ("--events", "100", "--unique", "50", "--distribution", "zipf", "--imports", "1"),
          parse_ingest_cost),
    Bench("prompt_size", "prompt_size.py", (), (), parse_prompt_size, exit_codes=(0, 1)),
    Bench("fix_rate", "fix_rate.py", (), ("inventory_webhook",), parse_fix_rate),
    Bench("validation_overhead", "validation_overhead.py", ("--repeats", "3"),
          ("--repeats", "1", "--tests", "5"), parse_validation_overhead),
    Bench("workflow_overhead", "workflow_overhead.py", ("--runs", "10"), ("--runs", "2"),
          parse_workflow_overhead),
)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(bench: Bench, *, quick: bool = False, full: bool = False) -> Result:
    """Run one benchmark script as a subprocess and read its headline numbers."""
    args = () if full else bench.quick_args if quick else bench.args
    argv = [sys.executable, str(BENCH / bench.script), *args]
    before = _load()
    started = time.perf_counter()
    try:
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=bench.timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return Result(bench.name, argv, None, time.perf_counter() - started, before, _load(),
                      problem=f"timed out after {bench.timeout:.0f}s")
    result = Result(bench.name, argv, proc.returncode, time.perf_counter() - started, before, _load(),
                    output=proc.stdout)
    if proc.returncode not in bench.exit_codes:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or [""]
        result.problem = f"exit status {proc.returncode}: {tail[0][:200]}"
        return result
    try:
        result.headlines = bench.parse(proc.stdout)
    except ValueError as exc:
        result.problem = str(exc)
    return result


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "MISSED")


def print_summary(results: list[Result]) -> None:
    rows = [("benchmark", "metric", "measured", "target", "verdict")]
    for r in results:
        if r.problem:
            rows.append((r.name, "ERROR", r.problem, "", ""))
        for h in r.headlines:
            rows.append((r.name, h.metric, h.measured, h.target, _verdict(h.ok)))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print()
    for r in results:
        print(f"{r.name:<20} {r.seconds:7.1f}s  load average before {r.load_before}, after {r.load_after}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smallest sizes (what the smoke test runs)")
    size.add_argument("--full", action="store_true", help="each script's own default sizes (slower)")
    parser.add_argument("--only", action="append", choices=[b.name for b in BENCHES], metavar="NAME",
                        help="run only this benchmark (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--show-output", action="store_true", help="print each benchmark's own output too")
    args = parser.parse_args(argv)
    results = []
    for bench in BENCHES:
        if args.only and bench.name not in args.only:
            continue
        print(f"running {bench.name} ...", file=sys.stderr, flush=True)
        result = run(bench, quick=args.quick, full=args.full)
        if args.show_output and not args.json:
            print(f"===== {bench.name}: {' '.join(result.argv[1:])}\n{result.output}")
        results.append(result)
    if args.json:
        print(json.dumps([asdict(r) | {"output": None} for r in results], indent=2))
    else:
        print_summary(results)
    return 1 if any(r.problem for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
