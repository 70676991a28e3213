"""Text similarity: passage sentences with their offsets, sentence vectors (cached), and word
overlaps. What ranking, alignment and the verifier's features are built from."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.chunking import sentence_spans
from index.embedder import Embedder, Vectors
from index.keyword import Tokenizer
from index.model import Passage


@dataclass(frozen=True)
class Span:
    """A sentence of a passage with its offsets in the article text."""

    passage: int  # index into the passages list
    start: int
    end: int
    text: str


def passage_sentences(passages: list[Passage]) -> list[Span]:
    out: list[Span] = []
    for i, p in enumerate(passages):
        for s, e in sentence_spans(p.text):
            out.append(Span(i, p.start + s, p.start + e, p.text[s:e]))
    return out


class VectorCache:
    """Sentence vectors by text (LRU, thread-safe). Texts not cached are embedded together in
    one batch: one model call for the forty sentences of five passages instead of forty."""

    def __init__(self, embedder: Embedder, maxsize: int = 8192):
        self.embedder = embedder
        self.maxsize = maxsize
        self._vecs: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def many(self, texts: Sequence[str]) -> Vectors:
        """A (len(texts), dim) array of the texts' vectors."""
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        with self._lock:
            found = {t: self._vecs[t] for t in texts if t in self._vecs}
            for t in found:
                self._vecs.move_to_end(t)
        todo = list(dict.fromkeys(t for t in texts if t not in found))
        if todo:
            fresh = self.embedder.embed(todo)
            with self._lock:
                for t, v in zip(todo, fresh, strict=True):
                    found[t] = self._vecs[t] = v
                while len(self._vecs) > self.maxsize:
                    self._vecs.popitem(last=False)
        return np.stack([found[t] for t in texts])

    def one(self, text: str) -> Vectors:
        vec: Vectors = self.many([text])[0]
        return vec


class TextSimilarity:
    """MiniLM cosine between texts (vectors cached) and content-word overlaps."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder
        self.tokenize = Tokenizer()
        self.vectors = VectorCache(embedder)
        self.embed = self.vectors.one
        self.embed_many = self.vectors.many

    def lexical(self, claim: str, quote: str) -> float:
        """Share of the claim's content words that the quote holds."""
        c = set(self.tokenize(claim))
        if not c:
            return 0.0
        return len(c & set(self.tokenize(quote))) / len(c)

    def local(self, claim: str, quote: str) -> float:
        """Share of the claim's content words found together in one window of the quote
        (width twice the claim's): words scattered over a long quote do not support it."""
        c = set(self.tokenize(claim))
        if not c:
            return 0.0
        q = self.tokenize(quote)
        width = max(10, 2 * len(c))
        best = 0
        for start in range(max(1, len(q) - width + 1)):
            best = max(best, len(c & set(q[start : start + width])))
            if best == len(c):
                break
        return best / len(c)
