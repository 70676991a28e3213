"""Text similarity: passage sentences with their offsets, sentence vectors (cached), and word
overlaps. What ranking, alignment and the verifier's features are built from."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

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


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A thread-safe least-recently-used map whose misses are handed to one ``compute`` call
    (which decides whether to read them in one model batch or one at a time)."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get_many(self, keys: Sequence[K], compute: Callable[[list[K]], Iterable[V]]) -> list[V]:
        """The values of ``keys``; those not held are ``compute``d (once each) and kept."""
        with self._lock:
            found = {k: self._items[k] for k in keys if k in self._items}
            for k in found:
                self._items.move_to_end(k)
        todo = list(dict.fromkeys(k for k in keys if k not in found))
        if todo:
            fresh = list(compute(todo))
            with self._lock:
                for k, v in zip(todo, fresh, strict=True):
                    found[k] = self._items[k] = v
                while len(self._items) > self.maxsize:
                    self._items.popitem(last=False)
        return [found[k] for k in keys]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class VectorCache:
    """Sentence vectors by text (LRU, thread-safe). Each text not cached is embedded alone.

    The default embedder is int8 with dynamic quantisation: its activation scale is taken over
    the whole input batch, so a sentence embedded beside others got another vector (cosine to
    itself alone down to 0.980 on 120 news sentences), and which others were beside it depended
    on what earlier questions had left in the cache: the same question over the same archive
    could get another answer. Alone, a text always gets the same vector, and on two cores short
    sentences are no slower (no padding to compute)."""

    def __init__(self, embedder: Embedder, maxsize: int = 8192):
        self.embedder = embedder
        self._vecs: LRU[str, Vectors] = LRU(maxsize)

    def many(self, texts: Sequence[str]) -> Vectors:
        """A (len(texts), dim) array of the texts' vectors."""
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack(self._vecs.get_many(texts, self._each))

    def _each(self, texts: list[str]) -> list[Vectors]:
        return [self.embedder.embed([t])[0] for t in texts]

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
