"""Retrieval evaluation: index a data set's passages, ask its questions, score the ranking."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from dataclasses import asdict
from typing import Any

from eval.datasets import Dataset, QAItem
from eval.metrics import hit_at_k, mrr_at_k, ndcg_at_k, recall_at_k
from eval.runs import RunWriter
from index.model import Passage
from index.retrieval import HybridRetriever
from qa.search import scoped_search
from qa.verifier import Verifier

# 'hybrid+as_of': the question's date is the reference date (the archive as it stood that
# day: later articles are excluded) and its time words become a recency prior or filters.
METHODS = ("bm25", "dense", "hybrid", "hybrid+as_of")
RERANK_POOL = 20  # 'hybrid+rerank': hybrid's top 20 reordered by the verifier's answer head


def score_ranking(ranked: list[str], gold: frozenset[str]) -> dict[str, float]:
    return {
        "hit@1": hit_at_k(ranked, gold, 1),
        "hit@5": hit_at_k(ranked, gold, 5),
        "recall@5": recall_at_k(ranked, gold, 5),
        "mrr@10": mrr_at_k(ranked, gold, 10),
        "ndcg@10": ndcg_at_k(ranked, gold, 10),
    }


def search_as(
    retriever: HybridRetriever,
    item: QAItem,
    method: str,
    k: int,
    reranker: Verifier | None = None,
) -> list[Passage]:
    """``method``'s ranking; 'hybrid+as_of' is the product's time-scoped search and
    'hybrid+rerank' hybrid's top ``RERANK_POOL`` by P(the chunk answers the question)."""
    if method == "hybrid+rerank" and reranker is not None:
        found = retriever.search(item.question, k=RERANK_POOL, method="hybrid")
        probs = reranker.answerable(item.question, [p.text for p in found])
        if probs is None:
            return found[:k]
        order = sorted(range(len(found)), key=lambda i: (-float(probs[i]), i))
        return [found[i] for i in order[:k]]
    if method != "hybrid+as_of":
        return retriever.search(item.question, k=k, method=method)  # type: ignore[arg-type]
    as_of = dt.date.fromisoformat(item.date) if item.date else None
    return scoped_search(retriever, item.question, item.question, k, as_of=as_of).passages


def evaluate_retrieval(
    ds: Dataset,
    retriever: HybridRetriever,
    writer: RunWriter | None = None,
    methods: tuple[str, ...] = METHODS,
    limit: int = 0,
    reranker: Verifier | None = None,
) -> dict[str, Any]:
    """Article- and chunk-level metrics per method, with per-question records (and
    'hybrid+rerank' when a ``reranker`` is given)."""
    items = ds.items[:limit] if limit else ds.items
    if reranker is not None:
        methods = (*methods, "hybrid+rerank")
    if not any(i.date for i in items):
        methods = tuple(m for m in methods if m != "hybrid+as_of")
    totals: dict[str, dict[str, list[float]]] = {m: {} for m in methods}
    latency: dict[str, list[float]] = {m: [] for m in methods}
    for item in items:
        row: dict[str, Any] = {"id": item.id, "question": item.question}
        row["gold"] = sorted(item.gold_ids)
        for m in methods:
            t0 = time.perf_counter()
            passages = search_as(retriever, item, m, 10, reranker)
            latency[m].append(time.perf_counter() - t0)
            ranked = [p.article_id for p in passages]
            scores = score_ranking(ranked, item.gold_ids)
            # chunk level: a chunk is relevant when it belongs to a gold article
            chunks = [p.chunk_id for p in passages]
            gold_chunks = frozenset(p.chunk_id for p in passages if p.article_id in item.gold_ids)
            scores["chunk_mrr@10"] = mrr_at_k(chunks, gold_chunks, 10)
            for name, value in scores.items():
                totals[m].setdefault(name, []).append(value)
            row[m] = {"ranked": ranked, **scores}
        if writer:
            writer.record(row)
    summary: dict[str, Any] = {
        "dataset": ds.name,
        "questions": len(items),
        "passages": len(ds.articles),
        "fusion": asdict(retriever.params),
    }
    for m in methods:
        summary[m] = {k: round(statistics.fmean(v), 4) for k, v in totals[m].items()}
        summary[m]["p50_ms"] = round(statistics.median(latency[m]) * 1000, 1)
    return summary
