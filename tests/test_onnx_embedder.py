"""The ONNX Runtime embedder: exported from the packaged weights here (no download), its int8
vectors close to torch's, and the Guilin passage still found first."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from tests.conftest import GUILIN_Q, ROOT, SEED, make_parts

pytestmark = pytest.mark.slow


def test_onnx_int8_matches_torch_and_retrieves(minilm, tmp_path_factory) -> None:
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


def test_concurrent_exports_into_one_folder_both_succeed(tmp_path) -> None:
    """Two server workers starting at once on an empty model folder: each exports into files
    of its own and renames them into place; both end with a working model, no leftovers."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from index.onnx_embedder import OnnxMiniLMEmbedder;"
        "e = OnnxMiniLMEmbedder(Path(sys.argv[1])); print(e.embed_query('Guilin')[:3])"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, cwd=ROOT
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert outs[0] == outs[1]
    assert sorted(f.name for f in tmp_path.iterdir()) == [
        "all-MiniLM-L6-v2-fused-fp32.onnx",
        "all-MiniLM-L6-v2-fused-int8.onnx",
    ]


def test_failed_export_falls_back_to_torch(tmp_path, monkeypatch, caplog) -> None:
    import index.onnx_embedder as mod

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no ONNX Runtime here")

    monkeypatch.setattr(mod, "OnnxMiniLMEmbedder", broken)
    embedder = mod.onnx_or_torch(tmp_path)
    assert embedder.variant == "torch-fp32"
    assert "ONNX embedder unavailable (RuntimeError: no ONNX Runtime here); using torch" in (
        caplog.text
    )
    assert embedder.embed_query("Guilin").shape == (384,)


def test_a_sentence_gets_the_same_vector_whatever_was_embedded_before(onnx_embedder) -> None:
    """The int8 model's activation scale spans its whole input: embedded in one batch with
    other texts, a sentence got another vector, so an answer depended on which sentences
    earlier questions had left in the cache. The cache embeds each text alone."""
    from qa.similarity import TextSimilarity

    sentence = "China and Russia proposed a regional security dialogue platform at Guilin."
    others = [
        "Foreign ministers met for two days.",
        " ".join(SEED.read_text().split()[:150]),
    ]
    fresh = TextSimilarity(onnx_embedder).embed(sentence)
    warm = TextSimilarity(onnx_embedder)
    together = warm.embed_many([*others, sentence])[-1]
    assert np.array_equal(fresh, together)
    assert np.array_equal(fresh, onnx_embedder.embed([sentence])[0])
