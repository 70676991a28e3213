"""The verifier: does a source passage support a claim, and does a passage answer a question?

It is the one place that decides what the engine shows, and exactly what ``qa eval scorer``
measures against human labels:

* ``ModelVerifier`` (the product's): the project's cross-encoder (``qa.crossencoder``, trained
  here) read together with cheap evidence features (MiniLM similarity, n-gram overlaps, numbers,
  names and negations the evidence lacks) by a logistic combiner fitted on the dev halves of
  QAGS and CLIFF. A claim's support against an evidence text is the best of its windows.
* ``RuleVerifier``: the engine's earlier hand rule (cosine and overlap, halved per missing
  number, name or negation), kept as the baseline the evaluation compares against and for the
  model-free fast tests.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from qa.claims import (
    PARTS,
    evidence_units,
    figure_contexts,
    name_order,
    names,
    negated,
    numbers,
    plain_words,
    split_sentences,
    words,
)
from qa.crossencoder import MODEL_DIR, CrossEncoder, windows
from qa.errors import VerifierUnavailable
from qa.similarity import Span, TextSimilarity

COMBINER = "verifier-combiner.json"
T = TypeVar("T")


class Verifier(Protocol):
    name: str
    threshold: float  # support at or above it: the claim is supported
    similarity: TextSimilarity

    def best(self, claim: str, spans: Sequence[Span]) -> tuple[int, float]:
        """Index of the span that best supports ``claim`` and its support (-1, 0.0: none)."""
        ...

    def support(self, claims: Sequence[str], evidences: Sequence[str]) -> np.ndarray:
        """P(supported) of each claim against its evidence text (any length)."""
        ...

    def answerable(self, question: str, texts: Sequence[str]) -> np.ndarray | None:
        """P(the text answers the question) for each text; None when this verifier cannot
        tell (the engine then keeps its topicality gate)."""
        ...


# --- the earlier hand rule --------------------------------------------------------------------


class RuleVerifier:
    """``0.5 cosine + 0.5 overlap``, halved for each missing number, name, word or negation."""

    name = "rule"

    def __init__(self, similarity: TextSimilarity, threshold: float = 0.6):
        self.similarity = similarity
        self.threshold = threshold

    def penalties(self, claim: str, quote: str) -> list[str]:
        sim = self.similarity
        found = []
        missing_nums = numbers(claim) - numbers(quote)
        if missing_nums:
            found.append(f"numbers not in source: {', '.join(sorted(missing_nums))}")
        q_words = plain_words(quote)
        missing_names = {n for n in names(claim) if n not in q_words}
        if missing_names:
            found.append(f"names not in source: {', '.join(sorted(missing_names))}")
        missing_words = {
            w for w in set(sim.tokenize(claim)) - set(sim.tokenize(quote)) if len(w) > 2
        }
        if missing_words:
            # a content word of the claim that the quote lacks ('runner-up' for 'winners',
            # 'first season' for 'season 10') is unsupported content, paraphrase or not
            found.append(f"words not in source: {', '.join(sorted(missing_words))}")
        if negated(claim) != negated(quote):
            found.append("negation differs")
        for clause in PARTS.split(claim):
            if len(sim.tokenize(clause)) >= 3 and sim.local(clause, quote) < 0.6:
                found.append(f"not backed by one passage of the quote: {clause.strip()!r}")
                break
        return found

    def score_many(self, claim: str, quotes: Sequence[str]) -> np.ndarray:
        if not quotes:
            return np.zeros(0, dtype=np.float32)
        sim = self.similarity
        vecs = sim.embed_many([claim, *quotes])
        cos = np.clip(vecs[1:] @ vecs[0], 0.0, 1.0)
        out = np.empty(len(quotes), dtype=np.float32)
        for i, q in enumerate(quotes):
            s = 0.5 * float(cos[i]) + 0.5 * min(sim.lexical(claim, q), sim.local(claim, q))
            s *= 0.5 ** len(self.penalties(claim, q))
            out[i] = max(0.0, min(1.0, s))
        return out

    def best(self, claim: str, spans: Sequence[Span]) -> tuple[int, float]:
        if not spans:
            return -1, 0.0
        scores = self.score_many(claim, [s.text for s in spans])
        i = int(np.argmax(scores))
        return i, float(scores[i])

    def support(self, claims: Sequence[str], evidences: Sequence[str]) -> np.ndarray:
        out = [
            float(self.score_many(c, evidence_units(e)).max()) if e.strip() else 0.0
            for c, e in zip(claims, evidences, strict=True)
        ]
        return np.array(out, dtype=np.float32)

    def answerable(self, question: str, texts: Sequence[str]) -> np.ndarray | None:
        return None


# --- the trained model with the evidence features ---------------------------------------------

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
class Combiner:
    """A logistic regression over standardised ``FEATURES``, and its decision threshold."""

    features: tuple[str, ...]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float  # the product's: chosen on QAGS CNN/DM dev (sentence vs news article)
    trained_on: dict[str, int] = field(default_factory=dict)
    set_thresholds: dict[str, float] = field(default_factory=dict)  # each on its set's dev half

    @classmethod
    def model_only(cls) -> Combiner:
        """The cross-encoder's probability alone (before a combiner is fitted)."""
        n = len(FEATURES)
        coef = [1.0] + [0.0] * (n - 1)
        return cls(FEATURES, [0.0] * n, [1.0] * n, coef, 0.0, 0.5)

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.array(self.mean)) / np.array(self.scale)
        return np.asarray(1.0 / (1.0 + np.exp(-(z @ np.array(self.coef) + self.intercept))))

    @classmethod
    def load(cls, folder: Path = MODEL_DIR) -> Combiner:
        path = folder / COMBINER
        try:
            data = json.loads(path.read_text())
            combiner = cls(**{**data, "features": tuple(data["features"])})
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise VerifierUnavailable(
                f"verifier combiner {path} is missing or invalid: {exc}"
            ) from None
        if combiner.features != FEATURES:
            raise VerifierUnavailable(f"{path} was fitted on other features: refit it")
        return combiner

    def save(self, folder: Path = MODEL_DIR) -> None:
        text = json.dumps(self.__dict__, indent=2, default=list) + "\n"
        (folder / COMBINER).write_text(text)


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


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


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


class ModelVerifier:
    """The cross-encoder and the evidence features, read by the fitted combiner."""

    def __init__(
        self,
        similarity: TextSimilarity,
        model: CrossEncoder,
        combiner: Combiner,
        width: int = 3,
        candidates: int = 4,
    ):
        self.similarity = similarity
        self.model = model
        self.combiner = combiner
        self.threshold = combiner.threshold
        self.answer_threshold = model.manifest.thresholds.get("answer", 0.5)
        self.width = width  # sentences per window of a long evidence text
        self.candidates = candidates  # spans read closely per claim in the engine
        self.name = f"model:{model.name}"

    def window_features(self, claim: str, evidence: str) -> np.ndarray:
        """Feature rows of ``claim`` against every window of ``evidence`` (what is fitted)."""
        sentences = evidence_units(evidence)
        ev = prepare_evidence(self.similarity, sentences)
        n = len(sentences)
        spans = [(i, min(i + self.width, n)) for i in range(max(1, n - self.width + 1))]
        texts = [" ".join(sentences[lo:hi]) for lo, hi in spans]
        probs = self.model.probs("support", [(claim, t) for t in texts])
        return evidence_features(
            self.similarity, claim, ev, spans, [_logit(float(p)) for p in probs]
        )

    # the verifier's answers ----------------------------------------------------------------

    def support(self, claims: Sequence[str], evidences: Sequence[str]) -> np.ndarray:
        """Each claim's weakest sentence, at its best window of the evidence."""
        out = []
        for claim, evidence in zip(claims, evidences, strict=True):
            if not evidence.strip():
                out.append(0.0)
                continue
            parts = split_sentences(claim) or [claim]
            rows = [self.window_features(c, evidence) for c in parts]
            out.append(min(float(self.combiner.predict(r).max()) for r in rows))
        return np.array(out, dtype=np.float32)

    def best(self, claim: str, spans: Sequence[Span]) -> tuple[int, float]:
        """The best of the ``candidates`` spans most similar to the claim, each read with its
        neighbours in the same passage."""
        if not spans:
            return -1, 0.0
        sim = self.similarity
        vecs = sim.embed_many([claim, *(s.text for s in spans)])
        cheap = vecs[1:] @ vecs[0] + np.array([sim.lexical(claim, s.text) for s in spans])
        picked = [int(i) for i in np.argsort(-cheap)[: self.candidates]]
        sentences = [s.text for s in spans]
        ev = prepare_evidence(self.similarity, sentences)
        windows_: list[tuple[int, int]] = []
        owner: list[int] = []
        for i in picked:
            lo = i - 1 if i > 0 and spans[i - 1].passage == spans[i].passage else i
            hi = i + 2 if i + 1 < len(spans) and spans[i + 1].passage == spans[i].passage else i + 1
            for span in {(i, i + 1), (lo, hi)}:
                windows_.append(span)
                owner.append(i)
        texts = [" ".join(sentences[lo:hi]) for lo, hi in windows_]
        probs = self.model.probs("support", [(claim, t) for t in texts])
        # a citation names one passage: the whole-evidence columns are over that passage
        home = _passage_ranges(spans)
        x = evidence_features(
            self.similarity,
            claim,
            ev,
            windows_,
            [_logit(float(p)) for p in probs],
            docs=[home[i] for i in owner],
        )
        scores = self.combiner.predict(x)
        j = int(np.argmax(scores))
        return owner[j], float(scores[j])

    def answerable(self, question: str, texts: Sequence[str]) -> np.ndarray | None:
        return self.model.probs("answer", [(question, t) for t in texts])


def _passage_ranges(spans: Sequence[Span]) -> list[tuple[int, int]]:
    """For each span, the range of the run of neighbouring spans from its passage."""
    out: list[tuple[int, int]] = []
    lo = 0
    for i in range(1, len(spans) + 1):
        if i == len(spans) or spans[i].passage != spans[lo].passage:
            out.extend([(lo, i)] * (i - lo))
            lo = i
    return out


def load_model_verifier(similarity: TextSimilarity, folder: Path = MODEL_DIR) -> ModelVerifier:
    """The shipped verifier; VerifierUnavailable (never a fall back) when its files are not
    there or not intact."""
    return ModelVerifier(similarity, CrossEncoder(folder), Combiner.load(folder))


def windows_of(text: str, width: int = 3) -> list[str]:
    """A text's windows of ``width`` sentences (the text itself when shorter)."""
    return [text[s:e] for s, e in windows(text, width)] or [text]
