"""Faithfulness: is each claim of an answer supported by the passage it cites?

Scorers behind one interface, ``score(claims, evidences) -> probabilities``:

* ``VerifierScorer``: the product's verifier (``qa.verifier``), the default: what is measured
  is what decides what users are shown.
* ``rule_scorer`` (the engine's earlier hand rule) and ``OfflineScorer`` (the earlier offline
  scorer: a logistic regression over eight evidence features, weights in
  ``scorer_weights.json``), kept so that ``qa eval scorer`` compares them in the same run.
* ``LLMJudge``: a declared second opinion from any OpenAI-compatible server
  (``prompts/judge.j2``).

On top: claims (sentences, split further where a sentence joins clauses), per-claim verdicts
(supported / unsupported / contradicted), answer faithfulness, and ALCE citation recall and
precision.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.embedder import Embedder
from qa.claims import negated, numbers, split_claims, split_sentences
from qa.evidence import FEATURES, Evidence, evidence_features, prepare_evidence
from qa.similarity import TextSimilarity
from qa.verifier import RuleVerifier, Verifier

WEIGHTS = Path(__file__).with_name("scorer_weights.json")
OLD_FEATURES = FEATURES[1:9]  # the earlier offline scorer's eight: no model


class Scorer(Protocol):
    name: str
    threshold: float

    def score(self, claims: Sequence[str], evidences: Sequence[str]) -> np.ndarray:
        """P(supported) per (claim, evidence) pair."""
        ...


class VerifierScorer:
    """The product's verifier (``qa.verifier``) as the evaluation's scorer: what is measured
    is exactly what decides what the engine shows."""

    def __init__(self, verifier: Verifier):
        self.verifier = verifier
        self.name = verifier.name
        self.threshold = verifier.threshold

    def score(self, claims: Sequence[str], evidences: Sequence[str]) -> np.ndarray:
        return np.asarray(self.verifier.support(claims, evidences), dtype=np.float64)


def rule_scorer(embedder: Embedder) -> VerifierScorer:
    """The engine's earlier hand rule, for comparison."""
    return VerifierScorer(RuleVerifier(TextSimilarity(embedder)))


@dataclass
class Weights:
    """The earlier offline scorer: a logistic regression over eight evidence features of the
    whole evidence text (no model), and its decision threshold."""

    features: tuple[str, ...]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float  # chosen on QAGS CNN/DM dev (sentence vs news article)
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


class FeatureExtractor:
    """Evidence features of claims against whole evidence texts (the earlier offline
    scorer's view), computed by the verifier's own feature code."""

    def __init__(self, embedder: Embedder):
        self.similarity = TextSimilarity(embedder)
        self.embedder = embedder
        self.evidence = lru_cache(maxsize=256)(self._prepare)

    def _prepare(self, text: str) -> Evidence:
        return prepare_evidence(self.similarity, split_sentences(text) or [text])

    def features(self, claims: Sequence[str], evidences: Sequence[str]) -> np.ndarray:
        """One row of ``OLD_FEATURES`` per pair. A claim of several sentences takes its
        weakest sentence on every feature (a claim is as supported as its weakest part)."""
        rows = []
        for claim, evidence in zip(claims, evidences, strict=True):
            ev = self.evidence(evidence)
            whole = [(0, len(ev.sentences))]
            parts = split_sentences(claim) or [claim]
            x = np.vstack(
                [
                    evidence_features(self.similarity, c, ev, whole, [0.0], whole=False)
                    for c in parts
                ]
            )
            rows.append(np.concatenate([x[:, 1:6].min(axis=0), x[:, 6:9].max(axis=0)]))
        return np.array(rows, dtype=np.float64).reshape(len(rows), len(OLD_FEATURES))


class OfflineScorer:
    """The earlier offline scorer: ``FeatureExtractor`` and the weights it shipped with."""

    name = "offline-features"

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
    c_nums, e_nums = numbers(claim, words=True), numbers(evidence, words=True)
    conflict = bool(c_nums - e_nums) and bool(e_nums)
    negation = negated(claim) != negated(evidence)
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
        vec = self.extractor.similarity.embed(claim)
        top = np.argsort(-(ev.vecs @ vec))[: self.evidence_sentences]
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
