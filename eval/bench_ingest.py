"""``qa bench ingest``: end-to-end ingestion of the BBC set vs bare encoding vs llama-index.

Every figure is measured in the same run, interleaved per repeat, and reported as medians
and ratios (never a lone absolute time as a verdict).
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from eval.runs import git_commit, machine
from index.chunking import embedding_text
from index.embedder import Embedder, MiniLMEmbedder, minilm_model_path
from index.model import Article
from index.onnx_embedder import OnnxMiniLMEmbedder
from index.parse import iter_files, parse_path
from qa.settings import Settings
from qa.wiring import Components


def onnx_embedder(settings: Settings) -> OnnxMiniLMEmbedder:
    """The int8 ONNX export from the configured model cache: the default embedder, without
    the torch fallback (a benchmark of ONNX must not quietly measure torch)."""
    cfg = settings.embedder
    cache = cfg.cache_dir or Path(settings.data_dir) / "models"
    return OnnxMiniLMEmbedder(cache, True, cfg.batch_size)


def bbc_files(root: Path, limit: int) -> list[Path]:
    files = [f for f in iter_files([root]) if f.suffix == ".txt" and f.name != "README.TXT"]
    return files[:limit] if limit else files


def _ours(files: list[Path], embedder: Embedder, comps: Components) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        parts = comps.fresh_index("bench", Path(tmp), embedder)
        t0 = time.perf_counter()
        report = parts.ingester.ingest_paths(files)
        elapsed = time.perf_counter() - t0
        parts.store.close()
    return {"seconds": elapsed, "articles": len(report.added), "chunks": report.chunks}


def _bare(texts: list[str], embedder: MiniLMEmbedder) -> float:
    t0 = time.perf_counter()
    embedder.model.encode(texts, batch_size=embedder.batch_size, show_progress_bar=False)
    return time.perf_counter() - t0


def _llamaindex(articles: list[Article], model_path: str) -> dict[str, Any]:
    import chromadb
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    embed = HuggingFaceEmbedding(model_name=model_path, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        client = chromadb.PersistentClient(
            path=tmp, settings=chromadb.config.Settings(anonymized_telemetry=False)
        )
        collection = client.get_or_create_collection(f"li-{uuid.uuid4().hex[:8]}")
        store = ChromaVectorStore(chroma_collection=collection)
        t0 = time.perf_counter()
        docs = [Document(text=a.text, metadata={"title": a.title}) for a in articles]
        index = VectorStoreIndex.from_documents(
            docs,
            storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=embed,
            show_progress=False,
        )
        elapsed = time.perf_counter() - t0
        chunks = collection.count()
        del index
    return {"seconds": elapsed, "chunks": chunks}


def bench_ingest(root: Path, repeats: int, limit: int, settings: Settings) -> dict[str, Any]:
    """Medians over ``repeats`` of: ours end to end, bare encode of our chunk texts, and
    llama-index's default pipeline (parse time for it excluded: it gets parsed articles)."""
    files = bbc_files(root, limit)
    if not files:
        raise FileNotFoundError(f"no .txt articles under {root}")
    embedder = MiniLMEmbedder(batch_size=settings.embedder.batch_size)
    comps = Components(settings)
    chunker = comps.chunker
    articles = [a for f in files for a in parse_path(f).articles]
    texts = [embedding_text(a.title, None, c.text) for a in articles for c in chunker.split(a)]
    embedder.embed(texts[:64])  # warm-up
    onnx = onnx_embedder(settings)
    onnx.embed(texts[:64])
    ours: list[dict[str, Any]] = []
    ours_onnx: list[dict[str, Any]] = []
    bare: list[float] = []
    llama: list[dict[str, Any]] = []
    for _ in range(repeats):
        gc.collect()
        ours.append(_ours(files, embedder, comps))
        gc.collect()
        ours_onnx.append(_ours(files, onnx, comps))
        gc.collect()
        bare.append(_bare(texts, embedder))
        gc.collect()
        llama.append(_llamaindex(articles, minilm_model_path()))
    t_ours = statistics.median(r["seconds"] for r in ours)
    t_onnx = statistics.median(r["seconds"] for r in ours_onnx)
    t_bare = statistics.median(bare)
    t_llama = statistics.median(r["seconds"] for r in llama)
    n_chunks = ours[0]["chunks"]
    return {
        "benchmark": "ingest",
        "articles": len(articles),
        "repeats": repeats,
        "ours": {
            "chunks": n_chunks,
            "median_s": round(t_ours, 2),
            "articles_per_s": round(len(articles) / t_ours, 1),
            "chunks_per_s": round(n_chunks / t_ours, 1),
        },
        "ours_onnx_int8": {
            "chunks": ours_onnx[0]["chunks"],
            "median_s": round(t_onnx, 2),
            "chunks_per_s": round(ours_onnx[0]["chunks"] / t_onnx, 1),
        },
        "speedup_onnx_int8_vs_torch_fp32": round(t_ours / t_onnx, 3),
        "bare_encode": {
            "chunks": len(texts),
            "median_s": round(t_bare, 2),
            "chunks_per_s": round(len(texts) / t_bare, 1),
        },
        "llamaindex_default": {
            "chunks": llama[0]["chunks"],
            "median_s": round(t_llama, 2),
            "articles_per_s": round(len(articles) / t_llama, 1),
        },
        "ratio_ours_to_bare_encode": round(t_ours / t_bare, 3),
        "ratio_llamaindex_to_ours": round(t_llama / t_ours, 3),
        "targets": {
            "ours_to_bare_max": 1.15,
            "faster_than_llamaindex": t_ours < t_llama,
            "onnx_speedup_min": 2.0,
        },
        "machine": machine(),
        "commit": git_commit(),
    }


def onnx_quality(root: Path, settings: Settings, limit: int = 0) -> dict[str, Any]:
    """RealtimeQA retrieval MRR@10 with the torch embedder and with the int8 ONNX export, same
    index build and questions: the faster embedder may cost at most 0.01."""
    from eval.datasets import load_realtimeqa
    from eval.retrieval import evaluate_retrieval

    ds = load_realtimeqa(root)
    comps = Components(settings)
    methods = ("dense", "hybrid", "hybrid+as_of")
    out: dict[str, Any] = {"dataset": ds.name, "questions": len(ds.items[:limit] or ds.items)}
    embedders: dict[str, Any] = {
        "torch_fp32": MiniLMEmbedder(batch_size=settings.embedder.batch_size),
        "onnx_int8": onnx_embedder(settings),
    }
    for name, embedder in embedders.items():
        parts = comps.fresh_index("quality", embedder=embedder)
        parts.ingester.ingest_articles(ds.articles)
        summary = evaluate_retrieval(ds, parts.retriever, methods=methods, limit=limit)
        out[name] = {m: summary[m]["mrr@10"] for m in methods}
        parts.store.close()
    out["mrr_drop"] = {m: round(out["torch_fp32"][m] - out["onnx_int8"][m], 4) for m in methods}
    out["target_max_drop"] = 0.01
    return out
