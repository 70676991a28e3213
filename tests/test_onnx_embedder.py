"""The ONNX Runtime embedder: exported from the packaged weights here (no download), its int8
vectors close to torch's, and the Guilin passage still found first."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from tests.conftest import GUILIN_Q, SEED, make_parts

pytestmark = pytest.mark.slow


def test_onnx_int8_matches_torch_and_retrieves(minilm, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    from index.onnx_embedder import OnnxMiniLMEmbedder
    from index.store import ChromaStore

    cache = tmp_path_factory.mktemp("onnx")
    onnx = OnnxMiniLMEmbedder(cache, quantize=True, batch_size=16)
    assert (cache / "all-MiniLM-L6-v2-fused-int8.onnx").is_file()
    text = SEED.read_text()
    sentences = [s.strip() for s in text.split(". ") if len(s.split()) > 4][:40]
    a, b = minilm.embed(sentences), onnx.embed(sentences)
    cos = (a * b).sum(axis=1)
    assert b.shape == a.shape and np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-4)
    assert cos.mean() > 0.985 and cos.min() > 0.95, (cos.mean(), cos.min())
    # order of the batch does not change a vector (length-sorted batching restores order)
    assert np.allclose(onnx.embed(sentences[::-1])[::-1], b, atol=1e-5)
    store = ChromaStore.ephemeral(f"onnx-{uuid.uuid4().hex[:8]}")
    ingester, retriever = make_parts(store, onnx)
    ingester.ingest_paths([SEED])
    top = retriever.search(GUILIN_Q, k=3, method="dense")[0]
    assert "regional security dialogue platform" in top.text
