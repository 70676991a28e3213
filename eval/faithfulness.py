"""Faithfulness: is each claim of an answer supported by the passage it cites?

Two scorer backends behind one interface, ``score(claims, evidences) -> probabilities``:

* ``OfflineScorer`` needs no download: MiniLM similarity to the best evidence sentence and
  window, lexical precision (unigrams, bigrams, trigrams; whole evidence and best window), and
  checks for numbers, names and negations the evidence does not carry, combined by a logistic
  regression whose weights and threshold ship in ``scorer_weights.json``. They are fitted on the
  dev halves of QAGS and CLIFF only (``qa eval scorer all --fit``); the meta-evaluation reports
  on the other halves, never on items the weights or threshold saw.
* ``LLMJudge`` asks any OpenAI-compatible server, with the prompt ``prompts/judge.j2``.

On top: claims (sentences, split further where a sentence joins clauses), per-claim verdicts
(supported / unsupported / contradicted), answer faithfulness, and ALCE citation recall and
precision.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.chunking import sentence_spans
from index.embedder import Embedder
from index.keyword import Tokenizer

WEIGHTS = Path(__file__).with_name("scorer_weights.json")
FEATURES = (
    "sim_sentence",
    "unigram",
    "unigram_window",
    "bigram",
    "trigram",
    "novel_numbers",
    "novel_names",
    "negation_mismatch",
)
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_NUM = re.compile(r"\d[\d,.]*\d|\d")
_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20",
    "first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5", "hundred": "100",
}  # fmt: skip
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-zA-Z'’-]+|\b[A-Z]{2,}\b")
_NOT_NAMES = {"the", "a", "an", "i", "it", "he", "she", "they", "we", "this", "that", "mr", "mrs"}
_NEG = re.compile(r"\b(not|no|never|none|nobody|neither|nor|without|n't|cannot)\b|n't\b", re.I)
# clause boundaries that join two claims; ', and' is left alone (it mostly ends a list)
_CLAUSE = re.compile(r";\s+|,\s+(?:but|while|whereas)\s+")


def split_sentences(text: str) -> list[str]:
    return [text[s:e].strip() for s, e in sentence_spans(text) if text[s:e].strip()]


def split_claims(text: str) -> list[str]:
    """Sentences, split again at '; ' or ', but/while/whereas' when both sides are whole
    claims (four words or more)."""
    claims: list[str] = []
    for sentence in split_sentences(text):
        parts = [p.strip(" ,;") for p in _CLAUSE.split(sentence)]
        if len(parts) > 1 and all(len(p.split()) >= 4 for p in parts):
            claims.extend(parts)
        else:
            claims.append(sentence)
    return claims


def _words(text: str) -> list[str]:
    return [_NUMBER_WORDS.get(w, w) for w in _WORD.findall(text.lower().replace("’", "'"))]


def _ngrams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _precision(claim: set[Any], evidence: set[Any]) -> float:
    return len(claim & evidence) / len(claim) if claim else 1.0


def _numbers(text: str) -> set[str]:
    found = {n.replace(",", "").rstrip(".") for n in _NUM.findall(text)}
    found |= {_NUMBER_WORDS[w] for w in _WORD.findall(text.lower()) if w in _NUMBER_WORDS}
    return found


def _names(text: str) -> set[str]:
    return {m.group(0).lower().rstrip("'s’") for m in _NAME.finditer(text)} - _NOT_NAMES


@dataclass
class Evidence:
    """An evidence text cut into sentences and two-sentence windows, with their vectors."""

    text: str
    sentences: list[str]
    windows: list[str]
    sentence_vecs: np.ndarray
    words: set[str]
    stems: set[str]
    bigrams: set[tuple[str, ...]]
    trigrams: set[tuple[str, ...]]
    window_stems: list[set[str]]
    numbers: set[str]


class FeatureExtractor:
    """The offline scorer's features for a claim against an evidence text."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder
        self.tokenize = Tokenizer()
        self.evidence: Callable[[str], Evidence] = lru_cache(maxsize=256)(self._prepare)

    def _prepare(self, text: str) -> Evidence:
        sentences = split_sentences(text) or [text]
        windows = [" ".join(sentences[i : i + 2]) for i in range(max(1, len(sentences) - 1))]
        vecs = self.embedder.embed(sentences)
        words = _words(text)
        return Evidence(
            text,
            sentences,
            windows,
            vecs,
            set(words),
            set(self.tokenize(text)),
            _ngrams(words, 2),
            _ngrams(words, 3),
            [set(self.tokenize(w)) for w in windows],
            _numbers(text),
        )

    def sentence_features(self, sentence: str, vec: np.ndarray, ev: Evidence) -> list[float]:
        sims = ev.sentence_vecs @ vec
        best = int(np.argmax(sims))
        words = _words(sentence)
        stems = set(self.tokenize(sentence))
        nums = _numbers(sentence)
        names = _names(sentence)
        ev_lower = ev.text.lower()
        return [
            float(sims[best]),
            _precision(stems, ev.stems),
            max(_precision(stems, w) for w in ev.window_stems),
            _precision(_ngrams(words, 2), ev.bigrams),
            _precision(_ngrams(words, 3), ev.trigrams),
            len(nums - ev.numbers) / len(nums) if nums else 0.0,
            sum(1 for n in names if n not in ev_lower) / len(names) if names else 0.0,
            float(bool(_NEG.search(sentence)) != bool(_NEG.search(ev.sentences[best]))),
        ]

    def features(self, claims: Sequence[str], evidences: Sequence[str]) -> np.ndarray:
        """One row per (claim, evidence) pair. A claim of several sentences takes its weakest
        sentence on every feature (a claim is only as supported as its least supported part)."""
        rows = []
        pieces = [split_sentences(c) or [c] for c in claims]
        flat = [s for p in pieces for s in p]
        vecs = self.embedder.embed(flat) if flat else np.zeros((0, self.embedder.dim))
        k = 0
        for parts, evidence in zip(pieces, evidences, strict=True):
            ev = self.evidence(evidence)
            feats = [self.sentence_features(s, vecs[k + i], ev) for i, s in enumerate(parts)]
            k += len(parts)
            arr = np.array(feats)
            # similarity and overlaps: the weakest sentence; mismatches: the worst one
            worst = np.concatenate([arr[:, :5].min(axis=0), arr[:, 5:].max(axis=0)])
            rows.append(worst)
        return np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


class Scorer(Protocol):
    name: str
    threshold: float

    def score(self, claims: Sequence[str], evidences: Sequence[str]) -> np.ndarray:
        """P(supported) per (claim, evidence) pair."""
        ...


@dataclass
class Weights:
    """A fitted logistic regression over standardised features, and its decision threshold."""

    features: tuple[str, ...]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float  # the product's: chosen on QAGS CNN/DM dev (sentence vs news article)
    trained_on: dict[str, int] = field(default_factory=dict)
    set_thresholds: dict[str, float] = field(default_factory=dict)  # each on its set's dev half

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.array(self.mean)) / np.array(self.scale)
        logits = z @ np.array(self.coef) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-logits)))

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> Weights:
        data = json.loads(path.read_text())
        return cls(**{**data, "features": tuple(data["features"])})

    def save(self, path: Path = WEIGHTS) -> None:
        path.write_text(json.dumps(self.__dict__, indent=2, default=list) + "\n")


def fit_weights(x: np.ndarray, y: np.ndarray, trained_on: dict[str, int]) -> Weights:
    """Logistic regression (balanced classes, C=0.1) on the given dev items; the threshold is
    the best balanced accuracy on them (``scorer_eval`` then sets per-set thresholds)."""
    from sklearn.linear_model import LogisticRegression

    from eval.metrics import best_threshold

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(class_weight="balanced", C=0.1, max_iter=2000)
    model.fit((x - mean) / scale, y)
    w = Weights(
        FEATURES,
        mean.tolist(),
        scale.tolist(),
        model.coef_[0].tolist(),
        float(model.intercept_[0]),
        0.5,
        trained_on,
    )
    w.threshold = best_threshold(w.predict(x), y)
    return w


class OfflineScorer:
    """MiniLM + lexical evidence + mismatch checks, combined by the shipped weights."""

    name = "offline"

    def __init__(self, embedder: Embedder, weights: Weights | None = None):
        self.extractor = FeatureExtractor(embedder)
        self.weights = weights or Weights.load()
        self.threshold = self.weights.threshold

    def score(self, claims: Sequence[str], evidences: Sequence[str]) -> np.ndarray:
        if not claims:
            return np.zeros(0)
        return self.weights.predict(self.extractor.features(claims, evidences))


# --- verdicts and citation quality -----------------------------------------------------------


@dataclass(frozen=True)
class ClaimVerdict:
    claim: str
    verdict: str  # supported / unsupported / contradicted
    score: float
    citations: tuple[int, ...]
    citation_recall: float  # 1.0 when the claim's citations jointly support it
    citation_precision: float  # share of its citations that support it or are needed
    n_citations: int = 0


def verdict_for(claim: str, evidence: str, score: float, threshold: float) -> str:
    """Supported above the threshold; below it, 'contradicted' when the evidence carries a
    conflicting number or the opposite polarity, else 'unsupported'."""
    if score >= threshold:
        return "supported"
    c_nums, e_nums = _numbers(claim), _numbers(evidence)
    conflict = bool(c_nums - e_nums) and bool(e_nums)
    negation = bool(_NEG.search(claim)) != bool(_NEG.search(evidence))
    return "contradicted" if conflict or negation else "unsupported"


_MARK = re.compile(r"\s*\[(\d+)\]")
_ATTRIBUTION = re.compile(r"^According to [^:]{1,120}:\s*")


_MARKS = re.compile(r"((?:\s*\[\d+\])+)")


def answer_claims(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """The claims of an answer with the citation numbers each carries: markers ('[1] [2]')
    belong to the sentence they follow."""
    text = re.sub(r"\s*\(Left out: \d+ sentence\(s\)[^)]*\)\s*$", "", text)
    parts = _MARKS.split(text)
    out: list[tuple[str, tuple[int, ...]]] = []
    for k in range(0, len(parts), 2):
        segment = parts[k]
        marks = tuple(int(m) for m in _MARK.findall(parts[k + 1])) if k + 1 < len(parts) else ()
        sentences = split_sentences(segment)
        for j, sentence in enumerate(sentences):
            body = _ATTRIBUTION.sub("", sentence.replace("[unsupported]", "")).strip()
            if len(body.split()) < 2:
                continue
            own = marks if j == len(sentences) - 1 else ()
            out.extend((claim, own) for claim in split_claims(body))
    return out


def judge_answer(
    text: str, cited: dict[int, str], scorer: Scorer
) -> tuple[list[ClaimVerdict], float]:
    """``judge_claims`` of an answer given as text with ``[n]`` markers (answers from
    elsewhere: our own answers carry their sentences)."""
    return judge_claims(answer_claims(text), cited, scorer)


def sentence_claims(sentences: Sequence[Any]) -> list[tuple[str, tuple[int, ...]]]:
    """The claims of an answer's shown sentences (``qa.answer.Sentence``), each with the
    citation numbers of its sentence."""
    out: list[tuple[str, tuple[int, ...]]] = []
    for s in sentences:
        if len(s.text.split()) >= 2:
            out.extend((claim, tuple(s.citations)) for claim in split_claims(s.text))
    return out


def judge_claims(
    claims: list[tuple[str, tuple[int, ...]]], cited: dict[int, str], scorer: Scorer
) -> tuple[list[ClaimVerdict], float]:
    """Per-claim verdicts for claims whose numbers point at ``cited[n]`` passages, and the
    answer's faithfulness (share of claims supported; 1.0 for an empty answer)."""
    if not claims:
        return [], 1.0
    # joint support: the claim against all its cited passages together
    joint_ev = [" ".join(cited[n] for n in marks if n in cited) for _, marks in claims]
    joint = scorer.score([c for c, _ in claims], joint_ev)
    singles: list[tuple[int, int]] = [
        (i, n) for i, (_, m) in enumerate(claims) for n in m if n in cited
    ]
    single = scorer.score([claims[i][0] for i, _ in singles], [cited[n] for _, n in singles])
    by_claim: dict[int, dict[int, float]] = {}
    for (i, n), s in zip(singles, single, strict=True):
        by_claim.setdefault(i, {})[n] = float(s)
    verdicts = []
    t = scorer.threshold
    for i, (claim, marks) in enumerate(claims):
        score = float(joint[i]) if joint_ev[i] else 0.0
        supported = score >= t and bool(joint_ev[i])
        per = by_claim.get(i, {})
        # ALCE precision counts a citation only when its claim is supported by all its
        # citations together, and then unless it is irrelevant: it does not support the claim
        # alone and the others still support it without it
        relevant = 0
        if supported:
            for n, s in per.items():
                others = [cited[m] for m in per if m != n]
                if s >= t or not others or float(scorer.score([claim], [" ".join(others)])[0]) < t:
                    relevant += 1
        precision = relevant / len(per) if per else 0.0
        verdicts.append(
            ClaimVerdict(
                claim,
                verdict_for(claim, joint_ev[i], score, t) if joint_ev[i] else "unsupported",
                round(score, 4),
                marks,
                float(supported),
                round(precision, 4),
                len(per),
            )
        )
    faithful = sum(v.verdict == "supported" for v in verdicts) / len(verdicts)
    return verdicts, faithful


def summarise_verdicts(all_verdicts: Sequence[Sequence[ClaimVerdict]]) -> dict[str, float]:
    flat = [v for vs in all_verdicts for v in vs]
    if not flat:
        return {"claims": 0}
    cited = [v for v in flat if v.citations]
    return {
        "claims": len(flat),
        "faithfulness": round(sum(v.verdict == "supported" for v in flat) / len(flat), 4),
        "contradicted": round(sum(v.verdict == "contradicted" for v in flat) / len(flat), 4),
        "citation_recall": round(sum(v.citation_recall for v in flat) / len(flat), 4),
        # micro-averaged over citations, as ALCE
        "citation_precision": round(
            sum(v.citation_precision * v.n_citations for v in cited)
            / max(1, sum(v.n_citations for v in cited)),
            4,
        ),
    }


class LLMJudge:
    """A judge model behind any OpenAI-compatible server (prompt ``prompts/judge.j2``).

    It reads the claim and the evidence sentences most similar to it (at most
    ``evidence_sentences``, in document order: small models have small contexts). The score is
    P(Yes) from the answer token's log-probabilities when the server returns them, else 1/0 from
    the text, 0.5 when the reply is neither.
    """

    name = "llm-judge"

    def __init__(
        self,
        base_url: str,
        model: str,
        embedder: Embedder,
        api_key: str = "not-needed",
        timeout_s: float = 60.0,
        evidence_sentences: int = 4,
    ):
        import openai

        import prompts

        self.client = openai.OpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=1
        )
        self.model = model
        self.prompt = prompts.load("judge")
        self.prompt_id = self.prompt.id
        self.extractor = FeatureExtractor(embedder)
        self.evidence_sentences = evidence_sentences
        self.threshold = 0.5
        self.unparsed = 0

    def evidence_for(self, claim: str, evidence: str) -> str:
        ev = self.extractor.evidence(evidence)
        if len(ev.sentences) <= self.evidence_sentences:
            return " ".join(ev.sentences)
        vec = self.extractor.embedder.embed([claim])[0]
        top = np.argsort(-(ev.sentence_vecs @ vec))[: self.evidence_sentences]
        return " ".join(ev.sentences[i] for i in sorted(top))

    def judge(self, claim: str, evidence: str) -> float:
        text = self.prompt.render(claim=claim, evidence=self.evidence_for(claim, evidence))
        out = self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "user", "content": text}],
            max_tokens=3,
            temperature=0.0,
            logprobs=True,
            top_logprobs=10,
        )
        return parse_judgement(out)

    def score(self, claims: Sequence[str], evidences: Sequence[str]) -> np.ndarray:
        scores = [self.judge(c, e) for c, e in zip(claims, evidences, strict=True)]
        return np.array(scores, dtype=np.float64)


def parse_judgement(completion: Any) -> float:
    """P(Yes) from the first answer token's top log-probabilities, or from the text."""
    choice = completion.choices[0] if completion.choices else None
    if choice is None:
        return 0.5
    content = getattr(choice.logprobs, "content", None) if choice.logprobs else None
    if content:
        yes = no = 0.0
        for alt in content[0].top_logprobs or []:
            word = alt.token.strip().lower()
            if word in ("yes", "y"):
                yes += float(np.exp(alt.logprob))
            elif word in ("no", "n"):
                no += float(np.exp(alt.logprob))
        if yes + no > 0:
            return yes / (yes + no)
    reply = (choice.message.content or "").strip().lower()
    if reply.startswith("yes"):
        return 1.0
    if reply.startswith("no"):
        return 0.0
    return 0.5
