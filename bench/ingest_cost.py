"""Ingest cost: the AWS guidance's cost model replayed through the real ingest Lambda on moto.

The guidance prices 1,000,000 error events a month over 1,000 unique errors at $17.08 of
DynamoDB and $2.43 of Lambda. This replays a sample of such a month (CloudWatch subscription
batches through ``functions.ingest.handler`` into a moto DynamoDB table), counts the store
writes and their write units (DynamoDB bills an UpdateItem by the item's size, 1 WRU per KB),
scales the sample to the month, and prints the cost next to the guidance's table and next to
"one write per event" (the guidance sample's approach). The handler runs with the delivery
ledger the composition root builds (one conditional put per delivered batch, so a retried or
duplicated delivery counts nothing); ``--retry-rate`` re-delivers that share of the batches, as
Lambda's retries and CloudWatch's duplicates do, and the report shows what a re-delivery costs
and that it adds no count. It also measures the ingest handler's cold import time in fresh
subprocesses, side by side with its neighbours.

    .venv/bin/python bench/ingest_cost.py [--events 2000] [--batch-size 100] [--distribution both]
                                          [--retry-rate 0.1]

Prices (us-east-1, on-demand, arm64 as template.yaml deploys): DynamoDB $0.625 per million WRU,
$0.25 per GB-month; Lambda $0.20 per million requests and $0.0000133334 per GB-second. The Lambda
duration is the handler's measured time under moto plus an assumed round-trip per DynamoDB write
(``--write-latency-ms``), since moto answers in-process. Free tiers are ignored.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GUIDANCE = {"dynamodb": 17.08, "lambda": 2.43}
WRU_PRICE = 0.625 / 1_000_000
STORAGE_PRICE_GB = 0.25
LAMBDA_REQUEST_PRICE = 0.20 / 1_000_000
LAMBDA_GB_SECOND = 0.0000133334  # arm64 (template.yaml: Architectures [arm64])
TYPES = ("KeyError", "ValueError", "TypeError", "AttributeError", "IndexError", "ZeroDivisionError")


def traceback_message(error: int, occurrence: int, frames: int) -> str:
    """One log event holding a traceback of defect ``error`` (a realistic depth of frames)."""
    lines = ["Traceback (most recent call last):"]
    for depth in range(frames):
        module = f"/var/task/service/layer{depth}/mod{(error + depth) % 37}.py"
        lines.append(f'  File "{module}", line {20 + depth * 3}, in handler_{error}_{depth}')
        lines.append(f"    result = step_{depth}(request, context, options={{'retry': {depth}}})")
    lines.append(f"{TYPES[error % len(TYPES)]}: cannot process order {occurrence * 7919 % 100003} "
                 f"for customer 'c-{occurrence % 977}' (request {occurrence:08x})")
    return "\n".join(lines)


def _attr_size(name: str, value: dict[str, Any]) -> int:
    """DynamoDB's item size rules (approximate for numbers)."""
    (kind, v), = value.items()
    size = len(name.encode())
    if kind == "S":
        return size + len(v.encode())
    if kind == "N":
        return size + len(v.lstrip("-").replace(".", "")) // 2 + 2
    if kind in ("BOOL", "NULL"):
        return size + 1
    if kind == "M":
        return size + 3 + sum(_attr_size(k, x) for k, x in v.items()) + len(v)
    if kind == "L":
        return size + 3 + sum(_attr_size("", x) for x in v) + len(v)
    return size + len(str(v))


def item_size(item: dict[str, Any]) -> int:
    return sum(_attr_size(k, v) for k, v in item.items())


class CountingClient:
    """Wraps a boto3 DynamoDB client: counts the write requests per item key and the time
    spent inside the client (moto answers in-process; that time is replaced by an assumed
    network round-trip when pricing Lambda)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.writes: Counter[str] = Counter()
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or name.startswith("_") or name in ("meta", "exceptions"):
            return attr

        def timed(**kwargs: Any) -> Any:
            if name in ("update_item", "put_item"):
                key = kwargs["Key"] if "Key" in kwargs else kwargs["Item"]
                self.writes[key["fingerprint"]["S"]] += 1
            t0 = time.perf_counter()
            try:
                return attr(**kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
        return timed


def pick(rng: random.Random, unique: int, distribution: str) -> int:
    """An error id: uniform, or Zipf-like (weight 1/rank^1.1: a few errors dominate, as in
    real services)."""
    if distribution == "uniform":
        return rng.randrange(unique)
    if unique not in _CUMULATIVE:
        weights = [1 / (rank + 1) ** 1.1 for rank in range(unique)]
        _CUMULATIVE[unique] = list(itertools.accumulate(weights))
    return rng.choices(range(unique), cum_weights=_CUMULATIVE[unique])[0]


_CUMULATIVE: dict[int, list[float]] = {}


def replay(events: int, unique: int, batch_size: int, frames: int, distribution: str,
           seed: int, retry_rate: float = 0.0) -> dict[str, Any]:
    """Send ``events`` events in subscription batches through the ingest handler on moto."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    import boto3
    from moto import mock_aws

    from functions import ingest
    from selfheal.adapters.delivery_ledger import DELIVERY_PREFIX
    from selfheal.adapters.dynamodb_store import DynamoDBErrorStore, create_table
    from selfheal.compose.store import build_ingest_service
    from selfheal.settings import load_settings
    from tests.support.tracking_aws import LambdaContext
    from tests.support.tracking_logs import subscription_data

    ingest.logger.registered_handler.stream = io.StringIO()  # type: ignore[attr-defined]
    rng = random.Random(seed)
    with mock_aws():
        raw = boto3.client("dynamodb", region_name="us-east-1")
        create_table("bench-errors", raw)
        client = CountingClient(raw)
        ingest.configure(build_ingest_service(load_settings(env={}), DynamoDBErrorStore("bench-errors",
                                                                                         client=client)))
        occurrence = Counter[int]()
        batches, distinct_per_batch, handler_seconds, excess = 0, [], 0.0, 0
        retries, retry_writes, retry_counted = 0, 0, 0
        sent = 0
        while sent < events:
            n = min(batch_size, events - sent)
            ids = [pick(rng, unique, distribution) for _ in range(n)]
            messages = []
            for e in ids:
                occurrence[e] += 1
                messages.append(traceback_message(e, occurrence[e], frames))
            event = {"awslogs": {"data": subscription_data(messages, start_ms=1_764_424_800_000 + sent,
                                                           first_id=36_000_000 + sent)}}
            before = sum(client.writes.values())
            t0 = time.perf_counter()
            result = ingest.handler(event, LambdaContext())
            handler_seconds += time.perf_counter() - t0
            # with metrics disabled Powertools never clears its metric set, and at 100 values of one
            # metric it prints the set to stdout anyway (garbling --json): drop it per invocation
            ingest.metrics.clear_metrics()
            written = sum(client.writes.values()) - before
            # a new error takes two requests (a conditional update that fails, then the create);
            # the delivery ledger one conditional put per batch
            excess = max(excess, written - result["distinct"] - len(result["new"]) - 1)
            distinct_per_batch.append(result["distinct"])
            batches += 1
            sent += n
            if rng.random() < retry_rate:  # the same delivery again: Lambda's retry or a duplicate
                before = sum(client.writes.values())
                again = ingest.handler(event, LambdaContext())
                ingest.metrics.clear_metrics()
                retries += 1
                retry_writes += sum(client.writes.values()) - before
                retry_counted += again["tracebacks"]
        ingest.configure(None)
        items = []
        scan: dict[str, Any] = {"TableName": "bench-errors"}
        while True:
            out = raw.scan(**scan)
            items += out["Items"]
            if "LastEvaluatedKey" not in out:
                break
            scan["ExclusiveStartKey"] = out["LastEvaluatedKey"]
    sizes = {i["fingerprint"]["S"]: item_size(i) for i in items if "status" in i}
    writes = sum(client.writes.values())
    ledger_writes = sum(v for k, v in client.writes.items() if k.startswith(DELIVERY_PREFIX))
    counted = sum(int(i["count"]["N"]) for i in items if "status" in i)
    return {"distribution": distribution, "events": events, "batches": batches, "writes": writes,
            "ledger_writes": ledger_writes, "retries": retries, "retry_writes": retry_writes,
            "retry_tracebacks_counted": retry_counted, "occurrences_counted": counted,
            "errors": len([i for i in items if "status" in i]),
            "distinct_per_batch": statistics.mean(distinct_per_batch), "max_excess_writes": excess,
            "handler_ms": 1000 * handler_seconds / batches,
            "handler_ms_outside_store": 1000 * (handler_seconds - client.seconds) / batches,
            "mean_item_bytes": statistics.mean(sizes.values()) if sizes else 0}


def monthly(run: dict[str, Any], month_events: int, unique: int, batch_size: int, latency_ms: float,
            memory_mb: int) -> dict[str, float]:
    """Scale a replay to the month. Per batch the handler writes once per distinct error
    (measured) plus the delivery ledger's one small put (1 WRU), and each of the month's
    ``unique`` errors costs one extra request once, when it is created (a conditional update that
    fails, then the put)."""
    batches = month_events / batch_size
    item_wru = math.ceil(run["mean_item_bytes"] / 1024)
    writes = run["distinct_per_batch"] * batches + unique + batches
    wru = run["distinct_per_batch"] * batches * item_wru + unique * (1 + item_wru) + batches
    storage_gb = run["mean_item_bytes"] * unique / 1e9
    dynamodb = wru * WRU_PRICE + storage_gb * STORAGE_PRICE_GB
    per_batch_writes = writes / batches
    seconds = (run["handler_ms_outside_store"] + latency_ms * per_batch_writes) / 1000
    lam = batches * LAMBDA_REQUEST_PRICE + batches * seconds * memory_mb / 1024 * LAMBDA_GB_SECOND
    return {"dynamodb": dynamodb, "lambda": lam, "invocations": batches, "seconds": seconds,
            "writes": writes, "writes_per_1000": 1000 * writes / month_events,
            "naive_dynamodb": month_events * item_wru * WRU_PRICE}


def import_seconds(module: str, repeat: int) -> float:
    """Median wall time of importing ``module`` in a fresh interpreter."""
    code = ("import time; t = time.perf_counter(); import importlib; "
            f"importlib.import_module({module!r}); print(time.perf_counter() - t)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 timeout=120, env=env, cwd=ROOT).stdout) for _ in range(repeat)]
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=2_000, help="events replayed (scaled to the month)")
    ap.add_argument("--unique", type=int, default=1_000)
    ap.add_argument("--batch-size", type=int, default=100, help="log events per subscription batch")
    ap.add_argument("--frames", type=int, default=12, help="frames per traceback")
    ap.add_argument("--month-events", type=int, default=1_000_000)
    ap.add_argument("--write-latency-ms", type=float, default=8.0)
    ap.add_argument("--memory-mb", type=int, default=256)
    ap.add_argument("--distribution", choices=["zipf", "uniform", "both"], default="both")
    ap.add_argument("--imports", type=int, default=5, help="subprocess imports per module (median)")
    ap.add_argument("--retry-rate", type=float, default=0.1,
                    help="share of batches delivered twice (Lambda retries, duplicated deliveries)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    dists = ["zipf", "uniform"] if args.distribution == "both" else [args.distribution]
    runs = [replay(args.events, args.unique, args.batch_size, args.frames, d, seed=7,
                   retry_rate=args.retry_rate) for d in dists]
    costs = [monthly(r, args.month_events, args.unique, args.batch_size, args.write_latency_ms,
                     args.memory_mb) for r in runs]
    imports = {m: import_seconds(m, args.imports) for m in
               ("json", "functions.ingest", "functions.dispatch", "boto3", "selfheal.domain.cloudwatch")}
    if args.json:
        print(json.dumps({"runs": runs, "monthly": costs, "import_seconds": imports}, indent=2))
        return
    print(f"replayed {args.events:,} events over {args.unique:,} unique errors, "
          f"batches of {args.batch_size}, scaled to {args.month_events:,} events/month\n")
    print(" " * 38 + "".join(f"{r['distribution']:>14}" for r in runs))
    rows = [
        ("errors recorded", [f"{r['errors']:,}" for r in runs]),
        ("distinct errors per batch (mean)", [f"{r['distinct_per_batch']:.1f}" for r in runs]),
        ("store writes per 1,000 events, sample", [f"{1000 * r['writes'] / r['events']:.1f}" for r in runs]),
        ("store writes per 1,000 events, month", [f"{c['writes_per_1000']:.1f}" for c in costs]),
        ("  (one write per event: 1,000.0)", ["" for _ in runs]),
        ("writes beyond 1/distinct (+1/new)", [str(r["max_excess_writes"]) for r in runs]),
        ("  delivery ledger writes (+1/batch)", [f"{r['ledger_writes']:,}" for r in runs]),
        ("re-delivered batches", [f"{r['retries']:,}" for r in runs]),
        ("  writes per re-delivery", [f"{r['retry_writes'] / max(1, r['retries']):.1f}" for r in runs]),
        ("  tracebacks counted again", [str(r["retry_tracebacks_counted"]) for r in runs]),
        ("occurrences counted / events sent",
         [f"{r['occurrences_counted']:,}/{r['events']:,}" for r in runs]),
        ("mean item size (bytes)", [f"{r['mean_item_bytes']:.0f}" for r in runs]),
        ("handler ms/batch (moto included)", [f"{r['handler_ms']:.1f}" for r in runs]),
        ("handler ms/batch outside the store", [f"{r['handler_ms_outside_store']:.1f}" for r in runs]),
        ("Lambda seconds/batch (priced)", [f"{c['seconds']:.3f}" for c in costs]),
        ("DynamoDB $/month", [f"{c['dynamodb']:.2f}" for c in costs]),
        ("  one write per event $/month", [f"{c['naive_dynamodb']:.2f}" for c in costs]),
        ("  guidance table $/month", [f"{GUIDANCE['dynamodb']:.2f}" for _ in costs]),
        ("Lambda $/month", [f"{c['lambda']:.2f}" for c in costs]),
        ("  guidance table $/month", [f"{GUIDANCE['lambda']:.2f}" for _ in costs]),
        ("DynamoDB cost / guidance", [f"{c['dynamodb'] / GUIDANCE['dynamodb']:.3f}" for c in costs]),
        ("Lambda cost / guidance", [f"{c['lambda'] / GUIDANCE['lambda']:.3f}" for c in costs]),
    ]
    for label, values in rows:
        print(f"{label:38}" + "".join(f"{v:>14}" for v in values))
    base = imports["json"]
    print("\ncold import in a fresh interpreter (median of "
          f"{args.imports}; 'json' is the interpreter baseline):")
    for module, seconds in imports.items():
        print(f"  {module:30} {seconds * 1000:8.1f} ms   x{seconds / base:6.1f} of baseline")
    print("  (boto3 and the extractor load on the first invocation, not at import)")


if __name__ == "__main__":
    main()
