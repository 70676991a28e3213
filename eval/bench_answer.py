"""``qa bench answer``: ``answer()`` latency p50/p95 and time to the first streamed text per
mode, ours (extractive, local SmolLM2) vs llama-index's ``CitationQueryEngine`` with the same
model file and the same embedder (ours, wrapped for llama-index), on the same RGB questions,
interleaved per question in one run."""

from __future__ import annotations

import time
from typing import Any

from eval.answers import _engine, spaced
from eval.datasets import Dataset
from eval.peers import llamaindex_parts
from eval.runs import git_commit, machine, p50_p95
from qa.answer import Delta, Final, Mode


def _stats(values: list[float]) -> dict[str, float]:
    return p50_p95(values, scale=1000, digits=1)


def bench_answer(ds: Dataset, comps: Any, n_questions: int) -> dict[str, Any]:
    from llama_index.core.query_engine import CitationQueryEngine

    items = spaced(ds.items, n_questions)
    engine = _engine(ds, comps)
    index, llm = llamaindex_parts(ds, comps.embedder)  # the same embedder as ours
    citation = CitationQueryEngine.from_args(index, llm=llm, similarity_top_k=5, streaming=True)
    total: dict[str, list[float]] = {"ours_extractive": [], "ours_local": [], "llamaindex": []}
    first: dict[str, list[float]] = {k: [] for k in total}
    engine.answer(items[0].question, mode="local")  # load the model before timing
    warm: Any = citation.query(items[0].question)
    warm.get_response()
    for item in items:
        modes: tuple[Mode, ...] = ("extractive", "local")
        for mode in modes:
            t0 = time.perf_counter()
            seen = None
            for event in engine.stream(item.question, mode=mode):
                if isinstance(event, Delta) and seen is None:
                    seen = time.perf_counter() - t0
                if isinstance(event, Final):
                    break
            done = time.perf_counter() - t0
            total[f"ours_{mode}"].append(done)
            first[f"ours_{mode}"].append(seen if seen is not None else done)
        t0 = time.perf_counter()
        response: Any = citation.query(item.question)
        seen = None
        for _ in response.response_gen:
            if seen is None:
                seen = time.perf_counter() - t0
        done = time.perf_counter() - t0
        total["llamaindex"].append(done)
        first["llamaindex"].append(seen if seen is not None else done)
    return {
        "benchmark": "answer",
        "dataset": ds.name,
        "questions": len(items),
        "answer": {k: _stats(v) for k, v in total.items()},
        "first_text": {k: _stats(v) for k, v in first.items()},
        "note": "first_text = time to the first streamed (verified) sentence for ours, to the "
        "first token for llama-index (which streams unverified text)",
        "targets": {"extractive_p50_ms": 150, "local_first_text_ms": 1000},
        "machine": machine(),
        "commit": git_commit(),
    }
