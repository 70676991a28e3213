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


def test_cpu_share_counts_a_busy_child_not_its_parent() -> None:
    import subprocess
    import sys
    import time

    from eval.bench_load import CpuShare

    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        share = CpuShare({"child": child.pid, "me": os.getpid()})
        time.sleep(1.0)
        cores = share.cores()
    finally:
        child.kill()
        child.wait()
    assert cores["child"] > 0.5, cores
    assert cores["me"] < 0.3, cores  # sleeping; the child's CPU is not ours


def test_verdicts_say_met_or_by_how_much_missed() -> None:
    from eval.bench_all import _by, _md, verdicts

    assert _by(1.96, 2.0, True, "×") == "**missed** by 0.04× (2 %)"
    assert _by(21.0, 30, False, " ms") == "**met**"
    stats = {"p50_ms": 10.0, "p95_ms": 12.0}
    run = {
        "throughput_rps": 10.0,
        "p50_ms": 1.0,
        "p95_ms": 2.0,
        "p99_ms": 3.0,
        "429": 0,
        "5xx": 0,
        "other_errors": 0,
        "cpu_cores": {"server": 0.9},
    }
    r = {
        "date": "2026-11-27T00:00:00",
        "commit": "abc",
        "machine": {"cores": 2, "cpu": "x86_64", "python": "3.11"},
        "ingest": {
            "articles": 4,
            "repeats": 1,
            "speedup_onnx_int8_vs_torch_fp32": 2.2,
            "ratio_ours_to_bare_encode": 1.0,
            "ratio_llamaindex_to_ours": 0.5,
            **{
                k: {"chunks": 9, "median_s": 1.0, "chunks_per_s": 9.0}
                for k in ("ours", "ours_onnx_int8", "bare_encode", "llamaindex_default")
            },
        },
        "quality": {
            "dataset": "rq",
            "questions": 3,
            "torch_fp32": {"dense": 0.7},
            "onnx_int8": {"dense": 0.69},
            "mrr_drop": {"dense": 0.01},
        },
        "query": {
            "queries": 5,
            "target_p50_ms_at_100k": 30,
            "sizes": {
                "100000": {
                    k: {"p50_ms": 35.0, "p95_ms": 40.0}
                    for k in ("ours_hybrid", "ours_dense", "ours_hybrid_onnx", "llamaindex")
                }
                | {"write_s": 1.0}
            },
        },
        "answer": {
            "dataset": "rgb",
            "questions": 3,
            "note": "n",
            "answer": {"ours_extractive": stats, "ours_local": stats},
            "first_text": {"ours_extractive": stats, "ours_local": stats},
            "targets": {"extractive_p50_ms": 150, "local_first_text_ms": 1000},
        },
        "load": {
            "seconds_per_run": 20.0,
            "server_peak_rss_mb": 900.0,
            "runs": {"search@16": run, "ask_local@16": {**run, "429": 5}},
            "targets": {"no_5xx": True, "429_only_from_local": True},
            "search_worker_scaling": {
                "1_workers": run,
                "2_workers": {**run, "cpu_cores": {"server": 1.2, "chroma": 0.6}},
                "ratio_2_to_1": 1.1,
            },
        },
    }
    rows = {t: (m, v, why) for t, m, v, why in verdicts(r)}
    retrieval = next(v for t, v in rows.items() if t.startswith("retrieval p50"))
    assert retrieval[1] == "**missed** by 5 ms (17 %)"
    assert rows["RealtimeQA MRR@10 drop with ONNX ≤ 0.01"][1] == "**met**"
    assert rows["16 clients for 60 s, no 5xx"] == (
        "0 × 5xx in 2 runs of 20 s",
        "**missed**",
        "runs were 20 s, not 60",
    )
    assert rows["429s only from the local-model queue"][1] == "**met**"
    scaling = next(v for t, v in rows.items() if "workers" in t)
    assert scaling[1].startswith("**missed**") and "server used 1.2 cores" in scaling[2]
    md = _md(r)
    assert "## Targets" in md and md.count("**missed**") == 3
