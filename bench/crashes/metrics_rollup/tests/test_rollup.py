from metrics.rollup import Sample, percentile, rollup


def test_percentile_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0


def test_rollup_per_endpoint():
    samples = [Sample("/a", 10, 200), Sample("/a", 30, 200), Sample("/a", 900, 503), Sample("/b", 5, 200)]
    out = rollup(samples)
    assert out["/a"] == {"requests": 3, "errors": 1, "min_ms": 10, "p50_ms": 10, "p95_ms": 30,
                         "max_ms": 30}
    assert out["/b"]["max_ms"] == 5
