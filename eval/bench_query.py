"""``qa bench query``: retrieval latency at about 10k and 100k chunks, ours (hybrid and dense)
vs llama-index's retriever over the same Chroma collection, same queries, same run.

The BBC set is chunked and embedded once; larger indexes replicate its chunks under new ids
with a little noise on the vectors (latency depends on the number and size of the vectors,
not on what they say). Both sides embed the query themselves with the same MiniLM (torch);
``ours_hybrid_onnx`` and ``llamaindex_onnx`` embed it with the fused int8 ONNX export (the
default embedder), llama-index through an adapter.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench_ingest import bbc_files, onnx_embedder
from eval.peers import llamaindex_embedding
from eval.runs import git_commit, machine, p50_p95
from index.chunking import embedding_text
from index.embedder import MiniLMEmbedder, minilm_model_path
from index.keyword import BM25Index
from index.parse import parse_path
from index.retrieval import HybridRetriever
from index.store import ChromaStore
from qa.settings import Settings
from qa.wiring import Components


def _time(
    retriever: HybridRetriever, fast: HybridRetriever, li: Any, li_fast: Any, queries: list[str]
) -> dict[str, list[float]]:
    """Milliseconds per query, interleaved per query so that drift hits all alike."""
    timings: dict[str, list[float]] = {
        "ours_hybrid": [],
        "ours_dense": [],
        "ours_hybrid_onnx": [],
        "llamaindex": [],
        "llamaindex_onnx": [],
    }
    for q in queries[:5]:  # warm-up
        retriever.search(q, k=5)
        fast.search(q, k=5)
        li.retrieve(q)
        li_fast.retrieve(q)
    for q in queries:
        for name, fn in (
            ("ours_hybrid", lambda q=q: retriever.search(q + " ", k=5)),
            ("ours_dense", lambda q=q: retriever.search(q + "  ", k=5, method="dense")),
            ("ours_hybrid_onnx", lambda q=q: fast.search(q + "   ", k=5)),
            ("llamaindex", lambda q=q: li.retrieve(q)),
            ("llamaindex_onnx", lambda q=q: li_fast.retrieve(q + " ")),
        ):
            t0 = time.perf_counter()
            fn()
            timings[name].append((time.perf_counter() - t0) * 1000)
    return timings


def _stages(
    store: ChromaStore, keyword: BM25Index, embedder: Any, queries: list[str]
) -> dict[str, float]:
    """Median ms of each step of a default hybrid search: embed the query (ONNX), the Chroma
    nearest-neighbour query (50 candidates), BM25 (50 candidates)."""
    steps: dict[str, list[float]] = {"embed": [], "chroma": [], "bm25": []}
    for q in queries:
        t0 = time.perf_counter()
        vector = embedder.embed_query(q + "    ")
        t1 = time.perf_counter()
        store.query(vector, 50)
        t2 = time.perf_counter()
        keyword.search(q, 50)
        t3 = time.perf_counter()
        for name, dt in (("embed", t1 - t0), ("chroma", t2 - t1), ("bm25", t3 - t2)):
            steps[name].append(dt * 1000)
    return {k: round(statistics.median(v), 2) for k, v in steps.items()}


def bench_query(
    root: Path, sizes: tuple[int, ...], n_queries: int, settings: Settings
) -> dict[str, Any]:
    from llama_index.core import VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    files = bbc_files(root, 0)
    # the BBC set holds exact duplicates: one article per id, as ingestion stores them
    articles = list({a.id: a for f in files for a in parse_path(f).articles}.values())
    comps = Components(settings)
    chunker = comps.chunker
    pieces = [(a, c) for a in articles for c in chunker.split(a)]
    embedder = MiniLMEmbedder(batch_size=settings.embedder.batch_size)
    onnx = onnx_embedder(settings)
    base = onnx.embed([embedding_text(a.title, None, c.text) for a, c in pieces])
    queries = [a.title for a in articles[:: max(1, len(articles) // n_queries)]][:n_queries]
    li_embed = HuggingFaceEmbedding(model_name=minilm_model_path(), device="cpu")
    li_onnx = llamaindex_embedding(onnx)
    rng = np.random.default_rng(0)
    results: dict[str, Any] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            parts = comps.fresh_index(f"q{size}", Path(tmp), onnx)
            store, keyword = parts.store, parts.keyword
            copies = -(-size // len(pieces))
            ids: list[str] = []
            docs: list[str] = []
            metas: list[dict[str, Any]] = []
            vecs: list[np.ndarray] = []
            for rep in range(copies):
                noise = rng.normal(0, 0.01, base.shape).astype(np.float32) if rep else 0.0
                v = base + noise
                v /= np.linalg.norm(v, axis=1, keepdims=True)
                for i, (a, c) in enumerate(pieces):
                    if len(ids) >= size:
                        break
                    ids.append(f"{a.id}r{rep}:{c.position}:{uuid.uuid4().hex[:6]}")
                    docs.append(c.text)
                    metas.append(
                        {
                            **a.metadata(),
                            "article_id": a.id,
                            "start": c.start,
                            "end": c.end,
                            "position": c.position,
                        }
                    )
                    vecs.append(v[i])
            t_write = time.perf_counter()
            batch = store.max_batch
            for lo in range(0, len(ids), batch):
                store.chunks.add(
                    ids=ids[lo : lo + batch],
                    documents=docs[lo : lo + batch],
                    metadatas=metas[lo : lo + batch],
                    embeddings=np.stack(vecs[lo : lo + batch]),
                )
            keyword.add(ids, docs, metas)
            keyword.search("warm up the index", 1)  # bm25s builds its matrix lazily
            write_s = time.perf_counter() - t_write
            store.put_article(articles, "complete", [1] * len(articles))
            retriever = HybridRetriever(store, keyword, embedder, parts.retriever.params)
            fast = parts.retriever
            li = VectorStoreIndex.from_vector_store(
                ChromaVectorStore(chroma_collection=store.chunks), embed_model=li_embed
            ).as_retriever(similarity_top_k=5)
            li_fast = VectorStoreIndex.from_vector_store(
                ChromaVectorStore(chroma_collection=store.chunks), embed_model=li_onnx
            ).as_retriever(similarity_top_k=5)
            timings = _time(retriever, fast, li, li_fast, queries)
            stages = _stages(store, keyword, onnx, queries)
            store.close()
        results[str(len(ids))] = {name: p50_p95(t) for name, t in timings.items()}
        r = results[str(len(ids))]
        r["write_s"] = round(write_s, 2)
        r["stages_p50_ms"] = stages
        r["ratio_p50_ours_hybrid_to_llamaindex"] = round(
            r["ours_hybrid"]["p50_ms"] / r["llamaindex"]["p50_ms"], 3
        )
        r["ratio_p50_onnx_ours_hybrid_to_llamaindex"] = round(
            r["ours_hybrid_onnx"]["p50_ms"] / r["llamaindex_onnx"]["p50_ms"], 3
        )
    return {
        "benchmark": "query",
        "queries": len(queries),
        "note": "query text varied by a space per call so that our query-embedding cache does"
        " not hide the embedding cost; llama-index embeds every query",
        "sizes": results,
        "target_p50_ms_at_100k": 30,
        "machine": machine(),
        "commit": git_commit(),
    }
