"""Peer systems on the same data, measured in the same run: llama-index 0.14 defaults
(``CitationQueryEngine`` and plain ``as_query_engine``, top-5 over 512-token chunks, MiniLM)
with the packaged SmolLM2, and MiniLM sentence-cosine baselines with no model."""

from __future__ import annotations

import re
import statistics
import time
from typing import Any

import numpy as np

from eval.datasets import Dataset
from eval.metrics import contains_answer
from eval.runs import RunWriter
from index.chunking import sentence_spans
from index.embedder import Embedder, MiniLMEmbedder, minilm_model_path
from qa.local_model import smollm2_path


def llamaindex_embedding(embedder: Embedder) -> Any:
    """One of our embedders as a llama-index embed model, so that a peer can run with the very
    same model (e.g. the ONNX export) as ours."""
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    class Ours(BaseEmbedding):
        _embedder: Any = PrivateAttr()

        def __init__(self, inner: Embedder) -> None:
            super().__init__(model_name=f"{inner.name} ({getattr(inner, 'variant', '')})")
            self._embedder = inner

        def _get_query_embedding(self, query: str) -> list[float]:
            return [float(x) for x in self._embedder.embed_query(query)]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return [float(x) for x in self._embedder.embed([text])[0]]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in v] for v in self._embedder.embed(texts)]

    return Ours(embedder)


def llamaindex_parts(ds: Dataset, embedder: Embedder | None = None) -> tuple[Any, Any]:
    """llama-index's defaults over the data set's articles (512-token chunks, MiniLM) and the
    packaged SmolLM2 as its LLM: the peer that the evals and benchmarks compare against.
    ``embedder``: ours to use instead of llama-index's HuggingFace MiniLM (same model)."""
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.llms.llama_cpp import LlamaCPP

    embed_model = (
        llamaindex_embedding(embedder)
        if embedder is not None
        else HuggingFaceEmbedding(model_name=minilm_model_path(), device="cpu")
    )
    index = VectorStoreIndex.from_documents(
        [Document(text=a.text) for a in ds.articles],
        embed_model=embed_model,
        transformations=[SentenceSplitter(chunk_size=512)],
    )
    llm = LlamaCPP(
        model_path=str(smollm2_path()),
        temperature=0.0,
        max_new_tokens=160,
        context_window=2048,
        verbose=False,
    )
    return index, llm


def evaluate_peers(ds: Dataset, writer: RunWriter, limit: int = 0) -> dict[str, Any]:
    from llama_index.core.query_engine import CitationQueryEngine

    items = ds.items[:limit] if limit else ds.items
    index, llm = llamaindex_parts(ds)
    engines = {
        "llamaindex_citation_smollm2": CitationQueryEngine.from_args(
            index, llm=llm, similarity_top_k=5
        ),
        "llamaindex_plain_smollm2": index.as_query_engine(llm=llm, similarity_top_k=5),
    }
    retriever = index.as_retriever(similarity_top_k=5)
    minilm = MiniLMEmbedder()
    out: dict[str, Any] = {"dataset": ds.name, "questions": len(items)}
    for name, qe in engines.items():
        acc, cited, lat = [], [], []
        for item in items:
            t0 = time.perf_counter()
            text = str(qe.query(item.question))
            lat.append(time.perf_counter() - t0)
            acc.append(contains_answer(text, item.answers))
            cited.append(float(bool(re.search(r"\[\d+\]", text))))
            writer.record({"system": name, "id": item.id, "answer": text, "accuracy": acc[-1]})
        out[name] = {
            "accuracy": round(statistics.fmean(acc), 4),
            "answers_with_citation": round(statistics.fmean(cited), 4),
            "median_latency_s": round(statistics.median(lat), 3),
        }
    for top in (1, 3):
        acc, lat = [], []
        for item in items:
            t0 = time.perf_counter()
            nodes = retriever.retrieve(item.question)
            sents = [n.text[s:e] for n in nodes for s, e in sentence_spans(n.text)]
            if sents:
                sims = minilm.embed(sents) @ minilm.embed_query(item.question)
                best = [sents[i] for i in np.argsort(-sims)[:top]]
            else:
                best = []
            lat.append(time.perf_counter() - t0)
            acc.append(contains_answer(" ".join(best), item.answers))
        out[f"minilm_top{top}_sentences"] = {
            "accuracy": round(statistics.fmean(acc), 4),
            "median_latency_s": round(statistics.median(lat), 3),
        }
    return out
