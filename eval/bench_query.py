"""``qa bench query``: retrieval latency at about 10k and 100k chunks, ours (hybrid and dense)
vs llama-index's retriever over the same Chroma collection, same queries, same run.

The BBC set is chunked and embedded once; larger indexes replicate its chunks under new ids
with a little noise on the vectors (latency depends on the number and size of the vectors,
not on what they say). Both sides embed the query themselves with the same MiniLM (torch);
``ours_hybrid_onnx`` is ours with the query embedded by the fused int8 ONNX export
(``QA_EMBEDDER__KIND=onnx``).
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench_ingest import bbc_files
from eval.runs import git_commit, machine
from index.chunking import SentenceChunker, embedding_text
from index.embedder import MiniLMEmbedder, minilm_model_path
from index.keyword import BM25Index
from index.onnx_embedder import OnnxMiniLMEmbedder
from index.parse import parse_path
from index.retrieval import HybridRetriever
from index.store import ChromaStore


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def _time(
    retriever: HybridRetriever, fast: HybridRetriever, li: Any, queries: list[str]
) -> dict[str, list[float]]:
    """Milliseconds per query, interleaved per query so that drift hits all alike."""
    timings: dict[str, list[float]] = {
        "ours_hybrid": [],
        "ours_dense": [],
        "ours_hybrid_onnx": [],
        "llamaindex": [],
    }
    for q in queries[:5]:  # warm-up
        retriever.search(q, k=5)
        fast.search(q, k=5)
        li.retrieve(q)
    for q in queries:
        for name, fn in (
            ("ours_hybrid", lambda q=q: retriever.search(q + " ", k=5)),
            ("ours_dense", lambda q=q: retriever.search(q + "  ", k=5, method="dense")),
            ("ours_hybrid_onnx", lambda q=q: fast.search(q + "   ", k=5)),
            ("llamaindex", lambda q=q: li.retrieve(q)),
        ):
            t0 = time.perf_counter()
            fn()
            timings[name].append((time.perf_counter() - t0) * 1000)
    return timings


def bench_query(
    root: Path, sizes: tuple[int, ...], n_queries: int, settings: Any
) -> dict[str, Any]:
    from llama_index.core import VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    files = bbc_files(root, 0)
    # the BBC set holds exact duplicates: one article per id, as ingestion stores them
    articles = list({a.id: a for f in files for a in parse_path(f).articles}.values())
    chunker = SentenceChunker(settings.chunking.max_tokens, settings.chunking.overlap_sentences)
    pieces = [(a, c) for a in articles for c in chunker.split(a)]
    embedder = MiniLMEmbedder(batch_size=settings.embedder.batch_size)
    onnx = OnnxMiniLMEmbedder(Path(settings.data_dir) / "models")
    base = embedder.embed([embedding_text(a.title, None, c.text) for a, c in pieces])
    queries = [a.title for a in articles[:: max(1, len(articles) // n_queries)]][:n_queries]
    li_embed = HuggingFaceEmbedding(model_name=minilm_model_path(), device="cpu")
    rng = np.random.default_rng(0)
    results: dict[str, Any] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            store = ChromaStore.embedded(Path(tmp) / "chroma", f"q{size}")
            keyword = BM25Index(None)
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
            retriever = HybridRetriever(store, keyword, embedder)
            fast = HybridRetriever(store, keyword, onnx)
            li = VectorStoreIndex.from_vector_store(
                ChromaVectorStore(chroma_collection=store.chunks), embed_model=li_embed
            ).as_retriever(similarity_top_k=5)
            timings = _time(retriever, fast, li, queries)
            store.close()
        results[str(len(ids))] = {
            name: {
                "p50_ms": round(statistics.median(t), 2),
                "p95_ms": round(_pct(t, 95), 2),
            }
            for name, t in timings.items()
        }
        r = results[str(len(ids))]
        r["write_s"] = round(write_s, 2)
        r["ratio_p50_ours_hybrid_to_llamaindex"] = round(
            r["ours_hybrid"]["p50_ms"] / r["llamaindex"]["p50_ms"], 3
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
