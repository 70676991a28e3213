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
from index.embedder import MiniLMEmbedder, minilm_model_path
from qa.generators import smollm2_path


def llamaindex_parts(ds: Dataset) -> tuple[Any, Any]:
    """llama-index's defaults over the data set's articles (512-token chunks, MiniLM) and the
    packaged SmolLM2 as its LLM: the peer that the evals and benchmarks compare against."""
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.llms.llama_cpp import LlamaCPP

    index = VectorStoreIndex.from_documents(
        [Document(text=a.text) for a in ds.articles],
        embed_model=HuggingFaceEmbedding(model_name=minilm_model_path(), device="cpu"),
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
