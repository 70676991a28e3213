"""``qa bench verifier``: what the trained verifier costs, against the earlier hand rule, side by
side in one run over the same RGB questions.

* Extractive answers end to end (``answer()``), the model verifier against the rule, interleaved
  per question (each engine with its own sentence-vector cache, each first half the time):
  p50/p95 and their ratio.
* The checks of a local answer alone: each question's three best passage sentences, reworded as
  a model would, verified against the top-5 passages (what the engine does after generation),
  and the answerability batch (six windows and six sentences), p50 per call. The verifier's
  per-answer caches are emptied before each question's checks: each is timed cold.
* Memory: resident set size before and after loading the verifier.
"""

from __future__ import annotations

import resource
import statistics
import time
from typing import Any

from eval.answers import _engine, spaced
from eval.datasets import Dataset
from eval.runs import git_commit, machine, p50_p95
from qa.engine import Engine
from qa.extractive import answer_windows
from qa.similarity import TextSimilarity, passage_sentences
from qa.verifier import ModelVerifier, RuleVerifier


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ms(values: list[float]) -> dict[str, float]:
    return p50_p95(values, scale=1000, digits=1)


def bench_verifier(ds: Dataset, comps: Any, n_questions: int = 30) -> dict[str, Any]:
    items = spaced(ds.items, n_questions)
    _ = comps.similarity  # the embedder, which the verifier shares
    before = _rss_mb()
    model = comps.verifier
    after = _rss_mb()
    engine = _engine(ds, comps)
    rule = RuleVerifier(TextSimilarity(comps.embedder))  # its own sentence-vector cache
    by_model = engine
    by_rule = Engine(engine.retriever, rule, {}, "extractive", engine.options)
    by_model.answer(items[0].question, mode="extractive")  # warm both
    by_rule.answer(items[0].question, mode="extractive")
    answers: dict[str, list[float]] = {"model": [], "rule": []}
    checks: dict[str, list[float]] = {"model": [], "rule": []}
    answerable: list[float] = []
    for n, item in enumerate(items):
        pair = [("model", by_model), ("rule", by_rule)]
        for name, eng in pair if n % 2 else pair[::-1]:  # each goes first half the time
            t0 = time.perf_counter()
            eng.answer(item.question, mode="extractive")
            answers[name].append(time.perf_counter() - t0)
        found = engine.retriever.search(item.question, 5)
        ranked = engine.extractive.rank(item.question, found)
        claims = [p.span.text.rstrip(".") + ", the report said." for p in ranked[:3]]
        if not claims:
            continue
        for name, verifier in (("model", model), ("rule", rule)):
            if isinstance(verifier, ModelVerifier):
                verifier.forget()  # nothing this answer's checks read before
            t0 = time.perf_counter()
            spans = passage_sentences(found)
            for claim in claims:
                verifier.best(claim, spans)
            checks[name].append(time.perf_counter() - t0)
        windows = answer_windows(ranked, found, 6)
        texts = [t for _, t in windows] + [p.span.text for p, _ in windows]
        t0 = time.perf_counter()
        model.answerable(item.question, texts)
        answerable.append(time.perf_counter() - t0)
    p50 = {k: statistics.median(v) for k, v in answers.items()}
    c50 = {k: statistics.median(v) for k, v in checks.items()}
    return {
        "benchmark": "verifier",
        "dataset": ds.name,
        "questions": len(items),
        "extractive_answer_ms": {k: _ms(v) for k, v in answers.items()},
        "extractive_answer_ratio_model_to_rule": round(p50["model"] / p50["rule"], 2),
        "local_answer_checks_ms": {k: _ms(v) for k, v in checks.items()},
        "local_answer_checks_ratio_model_to_rule": round(c50["model"] / c50["rule"], 2),
        "answerability_batch_ms": _ms(answerable),
        "rss_mb": {"before_verifier": round(before, 1), "after": round(after, 1)},
        "commit": git_commit(),
        "machine": machine(),
    }
