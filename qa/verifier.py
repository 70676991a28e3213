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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.claims import (
    PARTS,
    evidence_units,
    names,
    negated,
    numbers,
    plain_words,
    split_sentences,
)
from qa.crossencoder import MODEL_DIR, CrossEncoder, windows
from qa.errors import VerifierUnavailable
from qa.evidence import (
    FEATURES,
    Evidence,
    evidence_features,
    prepare_evidence,
)
from qa.similarity import LRU, Span, TextSimilarity

COMBINER = "verifier-combiner.json"


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
    fit: dict[str, float] = field(default_factory=dict)  # how it was fitted (C, CV AUROC)

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


_P_CLIP = 1e-4  # the model's probabilities are read within [1e-4, 1 - 1e-4]
_LOGIT_CAP = math.log((1 - _P_CLIP) / _P_CLIP)  # so its logit is within +-9.21


def _logit(p: float) -> float:
    p = min(max(p, _P_CLIP), 1 - _P_CLIP)
    return math.log(p / (1 - p))


class ModelVerifier:
    """The cross-encoder and the evidence features, read by the fitted combiner."""

    def __init__(
        self,
        similarity: TextSimilarity,
        model: CrossEncoder,
        combiner: Combiner,
        width: int = 3,
        candidates: int = 4,
        stages: tuple[int, ...] = (1, 3),
        prune: bool = True,
    ):
        self.similarity = similarity
        self.model = model
        self.combiner = combiner
        self.threshold = combiner.threshold
        self.answer_threshold = model.manifest.thresholds.get("answer", 0.5)
        self.width = width  # sentences per window of a long evidence text
        self.candidates = candidates  # spans read closely per claim in the engine
        self.stages = stages  # windows read before the first and second early stops
        self.prune = prune  # skip windows that cannot reach the threshold whatever the model says
        self.name = f"model:{model.name}"
        # an answer checks each of its sentences (and their shorter heads) against the same
        # passage sentences: their features are prepared once, and a (claim, window) pair
        # already read is not read again
        self._evidence: LRU[tuple[str, ...], Evidence] = LRU(16)
        self._probs: LRU[tuple[str, str], float] = LRU(4096)

    def forget(self) -> None:
        """Drop the prepared evidence and the pairs read (benchmarks time a cold answer)."""
        self._evidence.clear()
        self._probs.clear()

    def _prepared(self, sentences: list[str]) -> Evidence:
        return self._evidence.get_many(
            [tuple(sentences)], lambda keys: [prepare_evidence(self.similarity, list(keys[0]))]
        )[0]

    def _support_probs(self, pairs: list[tuple[str, str]]) -> list[float]:
        """The model's support probability per pair, reading only the pairs not seen lately."""
        return self._probs.get_many(
            pairs, lambda todo: [float(v) for v in self.model.probs("support", todo)]
        )

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
        """The best of the ``candidates`` spans most similar to the claim, each read alone and
        with its neighbours in the same passage.

        The windows are read in stages, most similar first (``stages``: how many windows the
        first reads have; the last reads the rest): once a stage holds a window at or above
        the threshold the claim is supported and the rest are not read. Windows whose cheap
        features keep them under the threshold even at the model's most favourable logit are
        not read at all. Whether a claim is supported is the same as reading every window (the
        best of all is at least that one); the span cited may be an earlier, slightly weaker
        one, and an unsupported claim's score is the best of the windows read."""
        if not spans:
            return -1, 0.0
        sentences = [s.text for s in spans]
        ev = self._prepared(sentences)
        stems = set(self.similarity.tokenize(claim))
        overlap = np.array([len(stems & w) / len(stems) if stems else 0.0 for w in ev.stems])
        cheap = ev.vecs @ self.similarity.embed(claim) + overlap
        windows_: list[tuple[int, int]] = []
        owner: list[int] = []
        for i in (int(i) for i in np.argsort(-cheap)[: self.candidates]):
            lo = i - 1 if i > 0 and spans[i - 1].passage == spans[i].passage else i
            hi = i + 2 if i + 1 < len(spans) and spans[i + 1].passage == spans[i].passage else i + 1
            for span in dict.fromkeys([(i, i + 1), (lo, hi)]):
                windows_.append(span)
                owner.append(i)
        home = _passage_ranges(spans)  # a citation names one passage: the doc_ columns
        docs = [home[i] for i in owner]
        # what each window could score at most, whatever the model says (its logit at the
        # clipped extreme the combiner likes): a window that cannot reach the threshold even
        # so cannot change the verdict, and is not read (unless none can: then the likeliest
        # one is read, so that the claim still gets a score of its own)
        extreme = _LOGIT_CAP if self.combiner.coef[0] >= 0 else -_LOGIT_CAP
        rows = evidence_features(
            self.similarity, claim, ev, windows_, [extreme] * len(windows_), docs=docs
        )
        ceiling = self.combiner.predict(rows)
        kept = [j for j in range(len(windows_)) if ceiling[j] >= self.threshold or not self.prune]
        kept = kept or [int(np.argmax(ceiling))]
        scores = np.zeros(0)
        for n in (*(k for k in self.stages if k < len(kept)), len(kept)):
            done = len(scores)
            part = kept[done:n]
            probs = self._support_probs(
                [(claim, " ".join(sentences[lo:hi])) for lo, hi in (windows_[j] for j in part)]
            )
            x = rows[part].copy()
            x[:, 0] = [_logit(p) for p in probs]  # the model's logit is the first column only
            scores = np.concatenate([scores, self.combiner.predict(x)])
            if scores.max() >= self.threshold:
                break
        j = kept[int(np.argmax(scores))]
        return owner[j], float(scores.max())

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
