"""``qa bench local``: what the supervised child process costs the local model's answers.

The same engine answers the same RGB questions in ``local`` mode twice per question,
interleaved: once with llama.cpp inside this process (``InProcessLlama``), once in the
supervised child behind a pipe (``SupervisedLlama``, the default). Time to the first shown
text and to the whole answer, p50/p95, and their ratios.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from eval.answers import _engine, spaced
from eval.datasets import Dataset
from eval.runs import git_commit, machine, p50_p95
from qa.answer import Delta, Final
from qa.engine import Engine
from qa.local_model import InProcessLlama, LocalModelGenerator, smollm2_path
from qa.settings import LocalGenerator


def _timed(engine: Engine, question: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    first = None
    for event in engine.stream(question, mode="local"):
        if isinstance(event, Delta) and first is None:
            first = time.perf_counter() - t0
        if isinstance(event, Final):
            break
    done = time.perf_counter() - t0
    return (first if first is not None else done), done


def bench_local(ds: Dataset, comps: Any, n_questions: int = 30) -> dict[str, Any]:
    cfg = LocalGenerator()
    items = spaced(ds.items, n_questions)
    base = _engine(ds, comps)
    inproc = LocalModelGenerator(
        InProcessLlama(smollm2_path(), cfg.context_tokens, cfg.threads), "smollm2", True
    )
    child = comps.local_generator(cfg)
    engines = {
        "in_process": Engine(
            base.retriever, base.verifier, {"local": lambda: inproc}, "local", base.options
        ),
        "child_process": Engine(
            base.retriever, base.verifier, {"local": lambda: child}, "local", base.options
        ),
    }
    first: dict[str, list[float]] = {k: [] for k in engines}
    whole: dict[str, list[float]] = {k: [] for k in engines}
    for eng in engines.values():
        _timed(eng, items[0].question)  # load and warm
    for item in items:
        for name, eng in engines.items():
            f, w = _timed(eng, item.question)
            first[name].append(f)
            whole[name].append(w)

    def ratio(d: dict[str, list[float]]) -> float:
        return round(statistics.median(d["child_process"]) / statistics.median(d["in_process"]), 3)

    return {
        "benchmark": "local",
        "dataset": ds.name,
        "questions": len(items),
        "first_text_ms": {k: p50_p95(v, scale=1000, digits=1) for k, v in first.items()},
        "answer_ms": {k: p50_p95(v, scale=1000, digits=1) for k, v in whole.items()},
        "first_text_ratio_child_to_in_process": ratio(first),
        "answer_ratio_child_to_in_process": ratio(whole),
        "commit": git_commit(),
        "machine": machine(),
    }
