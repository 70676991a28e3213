"""Evidence features: what the verifier's combiner reads beside the cross-encoder's logit.

An evidence text is cut into sentences once (``prepare_evidence``: vectors, stems, words,
figures and names); ``evidence_features`` gives each window of it the ``FEATURES`` row of a
claim: MiniLM similarity, n-gram overlaps, the numbers, names and negations the window lacks,
figures attached to other words and name pairs the other way round, each also over the whole
evidence (the ``doc_`` columns).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from qa.claims import figure_contexts, name_order, names, negated, numbers, words
from qa.similarity import TextSimilarity

T = TypeVar("T")

WINDOW_ONLY: tuple[str, ...] = (
    "model_logit",  # the cross-encoder's support logit for (claim, window)
    "sim_sentence",  # MiniLM cosine to the window's most similar sentence
    "unigram",  # share of the claim's content words in the window
    "unigram_pair",  # ... in the window's best two adjacent sentences
    "bigram",  # share of the claim's word bigrams in the window
    "trigram",
    "novel_numbers",  # share of the claim's figures the window lacks
    "novel_names",  # share of the claim's names the window lacks
    "negation_mismatch",  # the claim and its most similar sentence differ in negation
    "misplaced_figures",  # share of the claim's figures the window attaches to other words
    "reversed_names",  # share of the claim's name pairs a window sentence has the other way
)
# the same, over the whole evidence (every window gets them): a claim that fuses facts
# of several places is backed by the text as a whole, not by one window
FEATURES: tuple[str, ...] = (*WINDOW_ONLY, *(f"doc_{f}" for f in WINDOW_ONLY[1:]))
WINDOW_FEATURES = len(WINDOW_ONLY)


@dataclass
class Evidence:
    """An evidence text cut into sentences with their vectors and word sets."""

    sentences: list[str]
    vecs: np.ndarray
    stems: list[set[str]]
    words: list[list[str]]
    lower: list[str]
    figures: list[dict[str, set[str]]]  # per sentence: figure -> the words it is attached to
    orders: list[list[str]]  # per sentence: its names in order


def _ngrams(ws: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(ws[i : i + n]) for i in range(len(ws) - n + 1)}


def _share(part: set[T], whole: set[T]) -> float:
    return len(part & whole) / len(part) if part else 1.0


def _merged(parts: Iterable[dict[str, set[str]]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for part in parts:
        for k, v in part.items():
            out.setdefault(k, set()).update(v)
    return out


def prepare_evidence(similarity: TextSimilarity, sentences: list[str]) -> Evidence:
    """Sentences of an evidence text with their vectors and word sets."""
    return Evidence(
        sentences,
        similarity.embed_many(sentences),
        [set(similarity.tokenize(s)) for s in sentences],
        [words(s) for s in sentences],
        [s.lower() for s in sentences],
        [figure_contexts(s, similarity.tokenize) for s in sentences],
        [name_order(s) for s in sentences],
    )


def _misplaced(claim: dict[str, set[str]], window: dict[str, set[str]]) -> float:
    """Share of the claim's figures found in the window but attached there to none of the
    words they are attached to in the claim."""
    shared = [f for f, words in claim.items() if words and f in window]
    if not shared:
        return 0.0
    return sum(1 for f in shared if not claim[f] & window[f]) / len(shared)


def _reversed(claim: list[str], sentences: Sequence[list[str]]) -> float:
    """Share of the claim's name pairs that a sentence holding both has in the other order."""
    together = flipped = 0
    for i, a in enumerate(claim):
        for b in claim[i + 1 :]:
            for order in sentences:
                if a in order and b in order:
                    together += 1
                    flipped += order.index(b) < order.index(a)
    return flipped / together if together else 0.0


def evidence_features(
    similarity: TextSimilarity,
    claim: str,
    ev: Evidence,
    spans: Sequence[tuple[int, int]],
    logits: Sequence[float],
    whole: bool = True,
    docs: Sequence[tuple[int, int]] | None = None,
) -> np.ndarray:
    """``FEATURES`` of ``claim`` against each window ``[lo, hi)`` of the evidence's sentences
    (``logits``: the model's support logit for each window, 0 when there is no model). The
    ``doc_`` columns are over each window's document (``docs``, one range a window; default
    all the sentences); without ``whole``, the window columns only."""
    cvec = similarity.embed(claim)
    stems = set(similarity.tokenize(claim))
    cw = words(claim)
    bi, tri = _ngrams(cw, 2), _ngrams(cw, 3)
    nums, nams, neg = numbers(claim, words=True), names(claim), negated(claim)
    c_figures, c_order = figure_contexts(claim, similarity.tokenize), name_order(claim)
    sims = ev.vecs @ cvec
    rows = []
    for (lo, hi), logit in zip(spans, logits, strict=True):
        idx = range(lo, hi)
        best = max(idx, key=lambda i: sims[i])
        w_stems: set[str] = set().union(*(ev.stems[i] for i in idx))
        w_words = [w for i in idx for w in ev.words[i]]
        pair = max(
            (_share(stems, ev.stems[i] | ev.stems[min(i + 1, hi - 1)]) for i in idx),
            default=0.0,
        )
        text = " ".join(ev.lower[i] for i in idx)
        w_nums = numbers(text, words=True)
        rows.append(
            [
                logit,
                float(sims[best]),
                _share(stems, w_stems),
                pair,
                _share(bi, _ngrams(w_words, 2)),
                _share(tri, _ngrams(w_words, 3)),
                len(nums - w_nums) / len(nums) if nums else 0.0,
                sum(1 for n in nams if n not in text) / len(nams) if nams else 0.0,
                float(neg != negated(ev.sentences[best])),
                _misplaced(c_figures, _merged(ev.figures[i] for i in idx)),
                _reversed(c_order, [ev.orders[i] for i in idx]),
            ]
        )
    x = np.array(rows, dtype=np.float64).reshape(len(rows), WINDOW_FEATURES)
    if not whole:
        return x
    docs = docs or [(0, len(ev.sentences))] * len(rows)
    doc = {
        d: evidence_features(similarity, claim, ev, [d], [0.0], whole=False)[0, 1:]
        for d in dict.fromkeys(docs)
    }
    return np.hstack([x, np.array([doc[d] for d in docs]).reshape(len(rows), -1)])
