#!/usr/bin/env python3
"""Traceback extraction throughput and memory, measured side by side with trivial baselines.

1. Builds a realistic service log of ``--mb`` megabytes (default 100) in a temporary file, once
   per density of ``--densities`` (tracebacks per MB; default ``6,90``: an ordinary day and an
   error storm): timestamped records, access lines, JSON records, and tracebacks of varying
   depth and format (plain 3.11 with carets, chained, Lambda ``[ERROR]`` with ``\\r``
   separators, JSON-escaped, docker-compose prefixed, deep recursion, exception groups).
2. Runs, each in a fresh process, a baseline that only iterates the lines and tests
   ``"Traceback" in line``, and the extractor ``selfheal parse`` uses (``extract_from_stream``
   on the file's bytes) over the same file; and, as whole commands, ``selfheal parse --json
   FILE`` (the real command, CLI start-up, fingerprints and JSON output included) against the
   baseline as a ``python -c`` command. Prints the time ratios side by side per density
   (targets: extractor <= 4 at the ordinary density, ``parse --json`` <= 4 at storm density)
   and the extractor's peak RSS (target < 150 MB even with ``--mb 1000``). In-process times are
   wall seconds, command times CPU seconds (user + system) of the child processes, each the best
   of ``--repeat``: on a shared machine CPU time moves less than wall time. The commands run
   with the package's bytecode compiled first, as an installed package has it; ``--cold``
   removes it and runs them with ``PYTHONDONTWRITEBYTECODE=1`` (the package compiled on every
   run).
3. Builds a CloudWatch Logs subscription payload of about 1 MB (decompressed JSON, CloudWatch's
   batch limit) and prints the time to decode it and extract its tracebacks as a ratio to plain
   ``gzip.decompress`` + ``json.loads`` of it (target <= 2).

Usage: ``python bench/parse_throughput.py [--mb 100] [--densities 6,90] [--repeat 3] [--keep FILE]
[--cold]``
"""

from __future__ import annotations

import argparse
import base64
import compileall
import gzip
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from selfheal.domain.cloudwatch import decode_subscription, extract_from_batch  # noqa: E402
from selfheal.domain.extract.stream import extract_from_stream  # noqa: E402

MODULES = ["orders/handler.py", "orders/store.py", "orders/pricing.py", "orders/refunds.py",
           "orders/tracking.py"]
FUNCS = ["create_order", "get_tracking", "price_order", "refund_amount", "latest_status", "placed_on"]
TB_RATE = 0.0006  # chance that a record is a traceback: about 1% of all lines end up in tracebacks
ERRORS = [("KeyError", "'order_items'"), ("ZeroDivisionError", "division by zero"),
          ("AttributeError", "'NoneType' object has no attribute 'carrier'"),
          ("ValueError", "invalid literal for int() with base 10: 'x'"), ("TypeError", "unsupported operand")]


def _stamp(rng: random.Random, n: int) -> str:
    return f"2024-05-01 10:{(n // 60000) % 60:02d}:{(n // 1000) % 60:02d},{n % 1000:03d}"


def _frames(rng: random.Random, depth: int, root: str) -> list[str]:
    out = []
    for _ in range(depth):
        mod = rng.choice(MODULES)
        out.append(f'  File "{root}{mod}", line {rng.randint(5, 400)}, in {rng.choice(FUNCS)}')
        out.append(f"    result = {rng.choice(FUNCS)}(event, context)")
        if rng.random() < 0.3:
            out.append("             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^")
    return out


def _traceback(rng: random.Random, n: int) -> list[str]:
    kind = rng.random()
    etype, msg = rng.choice(ERRORS)
    depth = rng.choice([2, 3, 5, 8, 12, 20])
    if kind < 0.45:  # logging.exception() in a plain service log
        return [f"{_stamp(rng, n)} ERROR [orders.handler] req={rng.getrandbits(32):08x} failed",
                "Traceback (most recent call last):", *_frames(rng, depth, "/srv/app/"), f"{etype}: {msg}"]
    if kind < 0.6:  # chained
        return ["Traceback (most recent call last):", *_frames(rng, 2, "/srv/app/"), "OSError: timed out", "",
                "The above exception was the direct cause of the following exception:", "",
                "Traceback (most recent call last):", *_frames(rng, depth, "/srv/app/"), f"{etype}: {msg}"]
    if kind < 0.7:  # Lambda runtime: one event, \r separators, no-break-space indentation
        body = "\r".join(line.replace("  ", "\u00a0\u00a0") for line in _frames(rng, depth, "/var/task/"))
        return [f"[ERROR] {etype}: {msg}\rTraceback (most recent call last):\r{body}"]
    if kind < 0.8:  # JSON log line with an escaped traceback
        lines = ["Traceback (most recent call last):", *_frames(rng, depth, "/var/task/"), f"{etype}: {msg}"]
        text = "\n".join(lines)
        return [json.dumps({"level": "ERROR", "message": "failed", "exception": text, "service": "orders"})]
    if kind < 0.9:  # docker-compose prefix on every line
        lines = ["Traceback (most recent call last):", *_frames(rng, depth, "/app/"), f"{etype}: {msg}"]
        return [f"orders_1  | {line}" for line in lines]
    if kind < 0.95:  # recursion with the repeat marker
        return ["Traceback (most recent call last):", *_frames(rng, 3, "/srv/app/"),
                "  [Previous line repeated 996 more times]",
                "RecursionError: maximum recursion depth exceeded"]
    return ["  + Exception Group Traceback (most recent call last):",
            '  |   File "/srv/app/orders/replay.py", line 41, in replay_all',
            "  |     async with asyncio.TaskGroup() as group:",
            "  | ExceptionGroup: unhandled errors in a TaskGroup (2 sub-exceptions)",
            "  +-+---------------- 1 ----------------",
            "    | Traceback (most recent call last):",
            '    |   File "/srv/app/orders/replay.py", line 28, in replay_one',
            "    |     customer = find(request)['email']",
            f"    | {etype}: {msg}",
            "    +---------------- 2 ----------------",
            f"    | {etype}: {msg}",
            "    +------------------------------------"]


def _normal(rng: random.Random, n: int) -> str:
    r = rng.random()
    if r < 0.5:
        return (f"{_stamp(rng, n)} INFO  [orders.handler] req={rng.getrandbits(32):08x} GET /orders/"
                f"{rng.randint(10000, 99999)}/tracking 200 ({rng.randint(2, 90)} ms)")
    if r < 0.7:
        return (f'10.0.{rng.randint(0, 255)}.{rng.randint(0, 255)} - - [01/May/2024:10:00:00 +0000] '
                f'"POST /orders HTTP/1.1" 201 {rng.randint(100, 999)} "-" "python-requests/2.31"')
    if r < 0.85:
        return json.dumps({"level": "INFO", "location": "handler:42", "message": "order created",
                           "order_id": rng.randint(1, 10**6), "service": "orders", "cold_start": False})
    return (f"{_stamp(rng, n)} DEBUG [orders.store] cache hit ratio {rng.random():.3f} "
            f"for key=sku-{rng.randint(1, 999)}")


# Measured sizes in this log: an ordinary record, a traceback (all formats): density -> rate.
RECORD_BYTES, TRACEBACK_BYTES = 97, 2050


def generate(path: Path, megabytes: float, seed: int = 7,
             tb_per_mb: float | None = None) -> tuple[int, int, int]:
    """Write the log (``tb_per_mb`` tracebacks per MB, about; default 6.5); return (lines,
    traceback lines, tracebacks)."""
    rng = random.Random(seed)
    mb = 1024 * 1024
    rate = TB_RATE if tb_per_mb is None else (
        tb_per_mb * RECORD_BYTES / max(1.0, mb - tb_per_mb * (TRACEBACK_BYTES - RECORD_BYTES)))
    target = int(megabytes * 1024 * 1024)
    written = lines = tb_lines = tb_count = n = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        while written < target:
            chunk: list[str] = []
            for _ in range(2000):
                n += 1
                if rng.random() < rate:
                    tb = _traceback(rng, n)
                    tb_count += 1
                    tb_lines += sum(1 + line.count("\r") for line in tb)
                    chunk.extend(tb)
                else:
                    chunk.append(_normal(rng, n))
            text = "\n".join(chunk) + "\n"
            fh.write(text)
            written += len(text.encode())
            lines += len(chunk)
    return lines, tb_lines, tb_count


SCAN = ("import sys\nn = 0\nwith open(sys.argv[1], encoding='utf-8', errors='replace', newline='') as fh:\n"
        "    for line in fh:\n        if 'Traceback' in line:\n            n += 1\nprint(n)")


def _child(mode: str, path: str) -> None:
    start = time.perf_counter()
    count = 0
    if mode == "baseline":
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:  # noqa: PTH123
            for line in fh:
                if "Traceback" in line:
                    count += 1
    else:
        with open(path, "rb") as raw:  # noqa: PTH123 - the extractor `selfheal parse` runs, on bytes
            for _ in extract_from_stream(raw):
                count += 1
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": elapsed, "count": count, "rss_mb": usage.ru_maxrss / 1024}))


def _run_child(mode: str, path: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(path)], capture_output=True,
                          text=True, check=True, timeout=7200)
    result: dict[str, float] = json.loads(proc.stdout)
    return result


_CHILD_ENV: dict[str, str] | None = None  # the commands' environment (set by --cold)


def _command_cpu(argv: list[str]) -> float:
    """CPU seconds (user + system) of one whole command, its output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, timeout=7200, env=_CHILD_ENV)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _selfheal() -> list[str]:
    script = Path(sys.executable).parent / "selfheal"
    return [str(script)] if script.exists() else [sys.executable, "-m", "selfheal.cli.parse"]


def measure(path: Path, repeat: int) -> dict[str, float]:
    """Best of ``repeat``: in-process extractor vs scan (wall), and both as commands (CPU)."""
    best: dict[str, float] = {}
    for _ in range(max(1, repeat)):
        b = _run_child("baseline", path)
        o = _run_child("extract", path)
        scan = _command_cpu([sys.executable, "-c", SCAN, str(path)])
        cmd = _selfheal()
        cli = _command_cpu([*cmd, "parse", "--json", str(path)] if cmd[0].endswith("selfheal")
                           else [*cmd, "--json", str(path)])
        for key, value in (("base", b["seconds"]), ("extract", o["seconds"]), ("scan_cpu", scan),
                           ("cli_cpu", cli)):
            best[key] = min(best.get(key, value), value)
        best["rss"] = max(best.get("rss", 0.0), o["rss_mb"])
        best["count"] = o["count"]
    return best


def _payload(rng: random.Random, target: int = 1024 * 1024) -> str:
    events = []
    size = 0
    n = 0
    while size < target:
        n += 1
        lines = _traceback(rng, n) if rng.random() < TB_RATE else [_normal(rng, n)]
        for line in lines:
            events.append({"id": str(n), "timestamp": 1714550400000 + n, "message": line})
            size += len(line) + 60
    doc = {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/orders",
           "logStream": "2024/05/01/[$LATEST]abc", "subscriptionFilters": ["selfheal"], "logEvents": events}
    return base64.b64encode(gzip.compress(json.dumps(doc).encode())).decode()


def _interleaved(fns: list[object], rounds: int) -> list[float]:
    """Best time of each function, running them in turns so load changes hit both sides alike."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            assert callable(fn)
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def cloudwatch_ratio(repeat: int) -> tuple[float, float, int, int]:
    data = _payload(random.Random(11))
    raw = base64.b64decode(data)

    def baseline() -> None:
        json.loads(gzip.decompress(raw))

    found: list[int] = []

    def ours() -> None:
        found.append(len(extract_from_batch(decode_subscription(data))))

    base, mine = _interleaved([baseline, ours], 20 * repeat)
    return mine / base, base, len(gzip.decompress(raw)), found[-1]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--child"]:
        _child(args[1], args[2])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=100.0, help="size of each generated log in MB")
    ap.add_argument("--densities", default="6,90",
                    help="tracebacks per MB, comma separated (default: an ordinary day and an error storm)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each side (best time is kept)")
    ap.add_argument("--keep", type=Path, help="write the first generated log here and keep it")
    ap.add_argument("--cold", action="store_true",
                    help="run the commands without compiled bytecode (every run compiles the package)")
    opts = ap.parse_args(args)
    global _CHILD_ENV
    if opts.cold:
        # No bytecode of the package, and none written: every run compiles its sources (the
        # standard library and the dependencies keep theirs, as in a checkout).
        for cache in (ROOT / "selfheal").rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        _CHILD_ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        print("commands run cold: the package's sources are compiled on every run")
    else:
        # As installed: pip compiles a wheel's modules; a checkout writes __pycache__ on its first
        # run, unless PYTHONDONTWRITEBYTECODE is set (then every run would compile the package).
        compileall.compile_dir(ROOT / "selfheal", quiet=1)
    densities = [float(x) for x in opts.densities.split(",") if x.strip()]
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, density in enumerate(densities):
            path = opts.keep if (opts.keep and i == 0) else Path(tmp) / f"service-{i}.log"
            start = time.perf_counter()
            lines, tb_lines, tb_count = generate(path, opts.mb, tb_per_mb=density)
            size_mb = path.stat().st_size / 1024 / 1024
            print(f"generated {size_mb:.0f} MB, {lines} lines, {tb_count} tracebacks written, "
                  f"{tb_count / size_mb:.1f} tracebacks per MB, "
                  f"{tb_lines / lines:.2%} of lines in tracebacks "
                  f"({time.perf_counter() - start:.1f}s)")
            m = measure(path, opts.repeat)
            print(f"  baseline ('Traceback' in line): {m['base']:.2f}s; "
                  f"extract_from_stream: {m['extract']:.2f}s, {int(m['count'])} tracebacks")
            rows.append({**m, "density": tb_count / size_mb, "size": size_mb})
            if i == 0:
                print(f"RATIO extract/baseline = {m['extract'] / m['base']:.2f}  (target <= 4); "
                      f"peak RSS {m['rss']:.0f} MB on {size_mb:.0f} MB (target < 150 MB on 1 GB)")
    print("\n" + f"{'tracebacks per MB':40}" + "".join(f"{r['density']:>12.1f}" for r in rows))
    table = [
        ("scan, in process (s)", [f"{r['base']:.2f}" for r in rows]),
        ("extract_from_stream, in process (s)", [f"{r['extract']:.2f}" for r in rows]),
        ("  ratio", [f"{r['extract'] / r['base']:.2f}" for r in rows]),
        ("scan command, CPU (s)", [f"{r['scan_cpu']:.2f}" for r in rows]),
        ("selfheal parse --json, CPU (s)", [f"{r['cli_cpu']:.2f}" for r in rows]),
        ("  ratio", [f"{r['cli_cpu'] / r['scan_cpu']:.2f}" for r in rows]),
        ("peak RSS of the extractor (MB)", [f"{r['rss']:.0f}" for r in rows]),
    ]
    for label, values in table:
        print(f"{label:40}" + "".join(f"{v:>12}" for v in values))
    storm = max(rows, key=lambda r: r["density"])
    print(f"RATIO storm parse --json/scan = {storm['cli_cpu'] / storm['scan_cpu']:.2f} at "
          f"{storm['density']:.0f} tracebacks per MB  (target <= 4)")
    ratio, base_s, size, count = cloudwatch_ratio(max(1, opts.repeat))
    print(f"CloudWatch payload: {size / 1024:.0f} KB JSON, {count} tracebacks; "
          f"gzip+json {base_s * 1000:.1f} ms; "
          f"RATIO decode+extract/(gzip+json) = {ratio:.2f}  (target <= 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
