"""The project's own cross-encoder (MiniLM, trained here: ``qa train verifier``), on ONNX Runtime.

One encoder, two heads: ``support`` = P(the evidence supports the claim) and ``answer`` =
P(the passage answers the question). The model file ships in ``qa/models/`` with a manifest
holding its SHA-256, checked at load: a missing or altered file is a ``VerifierUnavailable``
error at start-up, never a silent fall back to another rule. CPU only, no torch; each pair is
run alone (see ``CrossEncoder``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import numpy as np

from index.chunking import sentence_spans
from qa.errors import VerifierUnavailable

log = logging.getLogger(__name__)
Task = Literal["support", "answer"]
TASKS: tuple[Task, ...] = ("support", "answer")
MAX_TOKENS = 192
MODEL_DIR = Path(str(files("qa").joinpath("models")))
MANIFEST = "verifier.json"


def windows(text: str, width: int = 3, stride: int = 1, offset: int = 0) -> list[tuple[int, int]]:
    """(start, end) character spans of runs of ``width`` sentences, every ``stride`` sentences
    (the whole text when it is shorter). What the model reads of a long passage."""
    spans = sentence_spans(text)
    if len(spans) <= width:
        return [(offset + spans[0][0], offset + spans[-1][1])] if spans else []
    out = []
    for i in range(0, len(spans) - width + stride, stride):
        j = min(i + width, len(spans)) - 1
        out.append((offset + spans[i][0], offset + spans[j][1]))
        if j == len(spans) - 1:
            break
    return out


class PairTokenizer:
    """MiniLM's WordPiece tokenizer for (first, second) pairs, longest-first truncation."""

    def __init__(self, tokenizer_json: Path, max_tokens: int = MAX_TOKENS):
        from tokenizers import Tokenizer

        self.tok: Any = Tokenizer.from_file(str(tokenizer_json))
        self.tok.enable_truncation(max_length=max_tokens, strategy="longest_first")
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self.max_tokens = max_tokens

    def __call__(self, pairs: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
        enc = self.tok.encode_batch([(a, b) for a, b in pairs])
        return {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }


def minilm_tokenizer_json() -> Path:
    from index.embedder import minilm_model_path

    return Path(minilm_model_path()) / "tokenizer.json"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Manifest:
    """What ``qa train verifier`` wrote: the file, its hash, and its decision thresholds."""

    file: str
    sha256: str
    max_tokens: int
    thresholds: dict[str, float]

    @classmethod
    def load(cls, folder: Path = MODEL_DIR) -> Manifest:
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text())
            return cls(
                str(data["file"]),
                str(data["sha256"]),
                int(data.get("max_tokens", MAX_TOKENS)),
                {str(k): float(v) for k, v in data.get("thresholds", {}).items()},
            )
        except (OSError, ValueError, KeyError) as exc:
            raise VerifierUnavailable(
                f"verifier manifest {path} is missing or invalid: {exc}"
            ) from None


def check_model(folder: Path = MODEL_DIR) -> tuple[Manifest, str]:
    """The manifest and the model file's SHA-256, which must be the manifest's: a missing or
    altered file is a ``VerifierUnavailable`` error (what ``qa serve`` checks first)."""
    manifest = Manifest.load(folder)
    path = folder / manifest.file
    if not path.is_file():
        raise VerifierUnavailable(f"verifier model {path} is missing (see qa/models/)")
    digest = sha256_of(path)
    if digest != manifest.sha256:
        raise VerifierUnavailable(
            f"verifier model {path} is corrupt: SHA-256 {digest[:16]}… is not the"
            f" manifest's {manifest.sha256[:16]}… (restore it from the repository, or"
            " retrain it: qa train verifier)"
        )
    return manifest, digest


class CrossEncoder:
    """The shipped verifier model. ``probs(task, pairs)`` -> P per (first, second) pair.

    Each pair is run alone. The model is int8 with dynamic quantisation, whose activation
    scale is taken over the whole input tensor, padding included: run in a batch, a pair's
    score depended on the pairs beside it (on 120 RGB pairs, logits moved by 0.125 at the
    median and 1.37 at most), so a claim's verdict could change with the windows read with
    it. Alone, a pair always gets the same score, and on these two cores it is no slower
    (no padding to compute)."""

    def __init__(self, folder: Path = MODEL_DIR, threads: int = 0):
        self.manifest, digest = check_model(folder)
        path = folder / self.manifest.file
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session: Any = ort.InferenceSession(
                str(path), opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ONNX Runtime's own errors (invalid graph, ...)
            raise VerifierUnavailable(f"verifier model {path} cannot be loaded: {exc}") from exc
        self.tokenize = PairTokenizer(minilm_tokenizer_json(), self.manifest.max_tokens)
        self.name = f"{self.manifest.file}@{digest[:10]}"

    def logits(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """(n, 2) logits: column 0 support, column 1 answer; each pair in a run of its own."""
        out = np.zeros((len(pairs), 2), dtype=np.float32)
        for i, pair in enumerate(pairs):
            out[i] = self.session.run(["logits"], self.tokenize([pair]))[0][0]
        return out

    def probs(self, task: Task, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        col = TASKS.index(task)
        z = self.logits(pairs)[:, col]
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float32)
