"""Roll raw request samples up into per-endpoint summaries for one minute."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    endpoint: str
    latency_ms: float
    status: int


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of already-sorted values."""
    rank = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


def summarise(samples: list[Sample]) -> dict[str, float | int]:
    """Counts plus latency of the successful requests (failures time out and would skew it)."""
    ok = sorted(s.latency_ms for s in samples if s.status < 500)
    fastest, slowest = ok[0], ok[-1]
    return {
        "requests": len(samples),
        "errors": sum(1 for s in samples if s.status >= 500),
        "min_ms": fastest,
        "p50_ms": percentile(ok, 50),
        "p95_ms": percentile(ok, 95),
        "max_ms": slowest,
    }


def rollup(samples: list[Sample]) -> dict[str, dict[str, float | int]]:
    by_endpoint: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_endpoint[s.endpoint].append(s)
    return {endpoint: summarise(group) for endpoint, group in sorted(by_endpoint.items())}
