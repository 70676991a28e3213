"""Claim support: does a passage sentence back an answer sentence?

Small local models do not write ``[n]`` markers, so every answer sentence is aligned after
generation to the passage sentence(s) that support it best. Support mixes MiniLM cosine with
lexical evidence, and penalises numbers, dates and names in the claim that the quote lacks.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.chunking import sentence_spans
from index.embedder import Embedder, Vectors
from index.keyword import Tokenizer
from index.model import Passage

_NUM = re.compile(r"\d[\d,.]*")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b(?:[A-Z][\w'’-]*[a-z0-9][\w'’-]*|[A-Z]{2,}\w*)")
_NOT_NAMES = {"the", "a", "an", "according", "in", "on", "at", "i", "it", "this", "that"}
_CLAUSES = re.compile(r",\s|;\s|\s(?:and|but|while|which|who|to|after|before|because)\s")
_NEG = re.compile(r"\b(not|no|never|none|nobody|neither|nor|n't|without|denied|rejected)\b", re.I)


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


def _numbers(text: str) -> set[str]:
    return {n.rstrip(".,").replace(",", "") for n in _NUM.findall(text)} - {""}


def _names(text: str) -> set[str]:
    """Capitalised words not at a sentence start, acronyms and codes ('LVIII', 'Q1')."""
    return {m.group(0).lower() for m in _NAME.finditer(text)} - _NOT_NAMES


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


class SupportScorer:
    """``score(claim, quote) in [0, 1]``; a claim is supported when score >= threshold."""

    def __init__(self, embedder: Embedder, threshold: float = 0.6):
        self.embedder = embedder
        self.threshold = threshold
        self.tokenize = Tokenizer()
        self.vectors = VectorCache(embedder)
        self.embed = self.vectors.one
        self.embed_many = self.vectors.many

    def lexical(self, claim: str, quote: str) -> float:
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

    def penalties(self, claim: str, quote: str) -> list[str]:
        found = []
        missing_nums = _numbers(claim) - _numbers(quote)
        if missing_nums:
            found.append(f"numbers not in source: {', '.join(sorted(missing_nums))}")
        q_words = set(re.findall(r"[\w'’-]+", quote.lower()))
        missing_names = {
            n for n in _names(claim) if n not in q_words and n.rstrip("'s") not in q_words
        }
        if missing_names:
            found.append(f"names not in source: {', '.join(sorted(missing_names))}")
        missing_words = {
            w for w in set(self.tokenize(claim)) - set(self.tokenize(quote)) if len(w) > 2
        }
        if missing_words:
            # a content word of the claim that the quote lacks ('runner-up' for 'winners',
            # 'first season' for 'season 10') is unsupported content, paraphrase or not
            found.append(f"words not in source: {', '.join(sorted(missing_words))}")
        if bool(_NEG.search(claim)) != bool(_NEG.search(quote)):
            found.append("negation differs")
        for clause in _CLAUSES.split(claim):
            if len(self.tokenize(clause)) >= 3 and self.local(clause, quote) < 0.6:
                found.append(f"not backed by one passage of the quote: {clause.strip()!r}")
                break
        return found

    def score_many(self, claim: str, quotes: list[str]) -> np.ndarray:
        if not quotes:
            return np.zeros(0, dtype=np.float32)
        vecs = self.embed_many([claim, *quotes])
        cv, qv = vecs[0], vecs[1:]
        cos = np.clip(qv @ cv, 0.0, 1.0)
        out = np.empty(len(quotes), dtype=np.float32)
        for i, q in enumerate(quotes):
            s = 0.5 * float(cos[i]) + 0.5 * min(self.lexical(claim, q), self.local(claim, q))
            # a name, number or negation the quote does not carry is the error that matters
            # in news: each halves the support
            s *= 0.5 ** len(self.penalties(claim, q))
            out[i] = max(0.0, min(1.0, s))
        return out

    def best(self, claim: str, spans: list[Span]) -> tuple[int, float]:
        """Index of the best-supporting span and its support (-1, 0.0 when none)."""
        if not spans:
            return -1, 0.0
        scores = self.score_many(claim, [s.text for s in spans])
        i = int(np.argmax(scores))
        return i, float(scores[i])
