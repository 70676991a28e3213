"""The benchmark scripts' own arithmetic (the benchmarks themselves are scripts, not tests)."""

from __future__ import annotations

import os

from eval.bench_load import peak_rss_mb, summarise


def test_load_summary_counts_429s_apart_from_errors() -> None:
    latencies = [0.1, 0.2, 0.3, 0.4, 5.0, 0.05]
    statuses = [200, 200, 200, 200, 429, 503]
    s = summarise(latencies, statuses, seconds=2.0)
    assert s["requests"] == 6 and s["ok"] == 4 and s["throughput_rps"] == 2.0
    assert s["429"] == 1 and s["5xx"] == 1 and s["other_errors"] == 0
    assert s["p50_ms"] == 250.0  # median of the successful 100, 200, 300, 400 ms


def test_peak_rss_reads_proc() -> None:
    assert peak_rss_mb(os.getpid()) > 10
