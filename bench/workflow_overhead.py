"""Engine overhead of the local fix workflow.

A full local fix (the real ASL in moto's Step Functions interpreter, the real handlers and step
services, the StepRecorder writing every state) with instantaneous collaborators (in-memory
store, dict source, scripted model and validator, in-memory code host), timed per execution and
set side by side with calling the same handlers in a plain Python loop.

    .venv/bin/python bench/workflow_overhead.py [--runs 30]

Both sides run in the same process one after the other, so the ratio is what to compare; on a
loaded machine both absolute numbers grow. The engine side includes moto's per-task Lambda
round trip (a boto3 call through moto's request stack) and the caller's status polling.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from selfheal.domain.records import Status  # noqa: E402
from selfheal.services.workflow.runner import run_execution  # noqa: E402
from tests.support.workflow_fakes import (  # noqa: E402
    local_engine,
    make_services,
    real_handlers,
    seed_error,
)

HAPPY_PATH = ("FetchSource", "BuildPrompt", "InvokeModel", "ValidatePatch", "CommitBranch",
              "OpenPullRequest", "MarkDone")


def fingerprint(i: int) -> str:
    return f"{i:012x}" + "f" * 20  # distinct 12-char prefixes: execution names use them


def plain_loop(tmp: Path, runs: int) -> list[float]:
    from selfheal.compose import aws

    svc = make_services(tmp / "plain")
    handlers = real_handlers()
    aws.configure(steps=svc)
    times = []
    try:
        for i in range(runs):
            fp = seed_error(svc.store, fingerprint(i))
            t0 = time.perf_counter()
            svc.store.transition(fp, Status.FIXING, reason="bench")
            payload = {"fingerprint": fp, "attempt": svc.store.start_attempt(fp, None).number}
            for state in HAPPY_PATH:
                payload = handlers[state](payload, None)
            times.append(time.perf_counter() - t0)
            assert svc.store.get(fp).status == Status.PR_OPEN  # type: ignore[union-attr]
    finally:
        aws.configure(steps=None)
    return times


def engine_runs(tmp: Path, runs: int) -> tuple[list[float], list[float]]:
    svc = make_services(tmp / "engine")
    wall, engine_time = [], []
    with local_engine(svc) as engine:
        for i in range(runs):
            fp = seed_error(svc.store, fingerprint(i))
            t0 = time.perf_counter()
            out = run_execution(svc.store, engine, fp, timeout=60, poll=0.05)
            wall.append(time.perf_counter() - t0)
            info = engine.describe(out.execution_id)
            assert out.status == Status.PR_OPEN, out
            if info.started_at and info.stopped_at:
                engine_time.append((info.stopped_at - info.started_at).total_seconds())
    return wall, engine_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain_loop(Path(tmp) / "warm", 2)  # imports and first-use costs out of the way
        plain = plain_loop(Path(tmp), args.runs)
        wall, inside = engine_runs(Path(tmp), args.runs)
    p, w = statistics.median(plain), statistics.median(wall)
    print(f"runs: {args.runs} full local fixes, {len(HAPPY_PATH)} Task states each (instantaneous steps)")
    print(f"plain handler loop     : {p * 1000:8.1f} ms per fix (median)")
    print(f"moto engine, wall time : {w * 1000:8.1f} ms per fix (median, start -> outcome read)")
    if inside:
        print(f"moto engine, execution : {statistics.median(inside) * 1000:8.1f} ms per fix "
              "(median, describe startDate -> stopDate)")
    print(f"engine overhead        : {(w - p) * 1000:8.1f} ms per fix; ratio engine/plain = {w / p:.2f}x")
    print(f"throughput             : {1 / w:8.1f} fixes/s through the engine, {1 / p:.1f} fixes/s plain")


if __name__ == "__main__":
    main()
