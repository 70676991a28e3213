"""Extractive answering: the passage sentences that best answer the question, verbatim.

A sentence's relevance mixes MiniLM cosine to the question, the share of the question's
content words it contains, whether it names the kind of thing asked for (a country, a count of
rounds: ``qa.answertypes``), and a small prior for passages ranked higher by retrieval. A sentence
that is itself a question is never a candidate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.chunking import sentence_spans
from index.model import Passage
from qa.answertypes import expected
from qa.claims import YEARS, has_date, numbers
from qa.similarity import Span, TextSimilarity, passage_sentences

_DATELINE = re.compile(
    r"^[A-Z][A-Za-z.'’ -]{1,40}?(?:,\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2}(?:,?\s+\d{4})?)?"
    r"\s*\([A-Z][A-Za-z]{1,12}\)\s*[-–—:]?\s*"
)
_FRAGMENT = re.compile(r"(\.\.\.|…)$")
# a question asks, it does not answer ("Who is the Oscars 2023 host?" in an explainer that
# answers it two paragraphs later): never an answer candidate
_QUESTION = re.compile(r"\?[\s\"'”’)\]]*$")
# Text in a passage that addresses the model is data, never an instruction, and never a
# claim worth quoting: such sentences are not answer candidates nor model context.
INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|rules|prompts?|above|previous)\b"
    r"|\byou (must|should|will) now\b|\b(reply|respond|answer) only\b|\bnew instructions?\b"
    r"|(^|\s)(system|assistant)\s*:|\bjailbreak\b|\bprompt injection\b",
    re.I,
)


# Tuned on the dev sets (RGB, first 600 RealtimeQA questions), 3 sentences, top-5 passages:
# contains-answer 0.69 / 0.60 vs 0.58 / 0.52 for cosine + lexical alone.
DEFAULT_WEIGHTS = {
    "cos": 0.6,
    "lex": 0.25,
    "num_match": 0.1,
    "num_clash": 0.3,
    "kind": 0.15,
    "novelty": 0.25,
    "fragment": 0.0,
    # a sentence naming what the question's wording asks for (qa.answertypes), fitted on
    # RealtimeQA January-February 2023 full articles (grid 0.05-2, the smallest weight with the
    # most gold in the answer): 86 -> 92 of 240 at 0.4 and above (7 gained, 1 lost; 0.05-0.1:
    # 89, 0.15-0.2: 90, 0.3: 91). 43 of the 240 questions ask for a type it knows.
    "typed": 0.4,
}
_CAPS = re.compile(r"\b[A-Z][\w'’.-]+")


def answer_kind(question: str) -> str | None:
    """The kind of thing the question asks for: person/name, date, number, place."""
    q = question.lower()
    if re.search(r"\bhow (many|much|long|old|far)\b|\bwhat (number|percentage|amount)\b", q):
        return "number"
    if re.search(r"\bwhen\b|\bwhat (date|year|day|month)\b|\brelease date\b", q):
        return "date"
    if re.search(r"\bwho\b|\bwhom\b|\bwhose\b|\bwinner\b|\bdirector\b|\bceo\b", q):
        return "name"
    if re.search(r"\bwhere\b|\blocation\b|\bwhich (city|country|state|place)\b", q):
        return "name"
    if re.search(r"\bwhich\b|\bwhat (company|team|country|film|movie|game|app)\b", q):
        return "name"
    return None


def has_kind(kind: str, sentence: str, question: str) -> bool:
    q_lower = question.lower()
    if kind == "number":
        return bool(numbers(sentence) - numbers(question))
    if kind == "date":
        return has_date(sentence, question)
    caps = [c for c in _CAPS.findall(sentence)[1:] if c.lower() not in q_lower]
    return bool(caps)


@dataclass(frozen=True)
class Pick:
    span: Span
    relevance: float  # ranks sentences as answers
    topical: float = 0.0  # is the sentence about the question at all (abstention gate)


class ExtractiveSelector:
    """Chooses up to ``max_sentences`` sentences whose relevance clears ``min_relevance``."""

    name = "extractive"
    prompt_id = None

    def __init__(
        self,
        similarity: TextSimilarity,
        max_sentences: int = 3,
        min_relevance: float = 0.35,
        rank_prior: float = 0.04,
        min_topical: float = 0.35,
    ):
        # min_topical 0.35: on 500 RealtimeQA questions spread over 2020-2023 it costs
        # 0.04 accuracy and abstains on 53% with the gold passages removed (RGB: 0%, its
        # negative passages are on-topic by design).
        self.min_topical = min_topical
        self.scorer = similarity
        self.max_sentences = max_sentences
        self.min_relevance = min_relevance
        self.rank_prior = rank_prior
        self.weights = dict(DEFAULT_WEIGHTS)

    def rank(self, question: str, passages: list[Passage]) -> list[Pick]:
        spans = [
            s
            for s in passage_sentences(passages)
            if len(s.text.split()) >= 4
            and not INSTRUCTION.search(s.text)
            and not _QUESTION.search(s.text)
        ]
        if not spans:
            return []
        w = self.weights
        vecs = self.scorer.embed_many([question, *(s.text for s in spans)])
        qv, sv = vecs[0], vecs[1:]
        cos = sv @ qv
        q_nums = numbers(question)
        q_words = set(self.scorer.tokenize(question))
        kind = answer_kind(question)
        typed = expected(question)
        picks = []
        for i, s in enumerate(spans):
            lex = self.scorer.lexical(question, s.text)
            topical = 0.6 * float(cos[i]) + 0.4 * lex
            rel = w["cos"] * float(cos[i]) + w["lex"] * lex - self.rank_prior * s.passage
            s_nums = numbers(s.text)
            if q_nums:
                if q_nums <= s_nums:
                    rel += w["num_match"]
                elif s_nums & YEARS and not q_nums & s_nums:
                    rel -= w["num_clash"]  # about another year or figure
            if kind and has_kind(kind, s.text, question):
                rel += w["kind"]
            if typed is not None and typed.found_in(s.text):
                rel += w["typed"]
            words = set(self.scorer.tokenize(s.text))
            novelty = len(words - q_words) / max(1, len(words))
            rel += w["novelty"] * novelty
            if _FRAGMENT.search(s.text):
                rel -= w["fragment"]
            picks.append(Pick(s, rel, topical))
        picks.sort(key=lambda p: -p.relevance)
        return picks

    def select(self, question: str, passages: list[Passage]) -> list[Pick]:
        """The answer sentences, or [] when no sentence is about the question at all
        (best topical score < ``min_topical``): the engine then abstains."""
        return self.choose(self.rank(question, passages))

    def choose(self, ranked: list[Pick]) -> list[Pick]:
        """``select`` on a ranking already made by ``rank``."""
        if not ranked or max(p.topical for p in ranked) < self.min_topical:
            return []
        chosen: list[Pick] = []
        for pick in ranked:
            if pick.relevance < self.min_relevance or len(chosen) == self.max_sentences:
                break
            if any(_near_duplicate(pick.span.text, c.span.text) for c in chosen):
                continue
            chosen.append(pick)
        return chosen


def reranked(ranked: list[Pick], answer_probs: list[float], weight: float) -> list[Pick]:
    """``ranked`` with its first ``len(answer_probs)`` picks raised by ``weight`` times the
    answerability model's probability that the sentence answers the question: a sentence
    that only restates the question's topic falls behind one that answers it."""
    if not weight or not answer_probs:
        return ranked
    head = [
        Pick(p.span, p.relevance + weight * a, p.topical)
        for p, a in zip(ranked, answer_probs, strict=False)
    ]
    return sorted(head + ranked[len(head) :], key=lambda p: -p.relevance)


def _near_duplicate(a: str, b: str) -> bool:
    """Nearly the same words and the same figures (differing figures are never duplicates:
    they may be sources that disagree)."""
    if numbers(a) != numbers(b):
        return False
    wa, wb = set(a.lower().split()), set(b.lower().split())
    return len(wa & wb) / max(1, min(len(wa), len(wb))) > 0.8


def display_text(sentence: str) -> str:
    """A quote as shown in an answer: without its wire dateline ('Beijing, Mar 23 (PTI)')."""
    shown = _DATELINE.sub("", sentence, count=1)
    return shown[:1].upper() + shown[1:] if shown else sentence


def answer_windows(
    ranked: list[Pick], passages: list[Passage], n: int = 6
) -> list[tuple[Pick, str]]:
    """The ``n`` best-ranked sentences, each read with its neighbours in its passage: what
    the answerability model is asked about."""
    out: list[tuple[Pick, str]] = []
    for pick in ranked[:n]:
        p = passages[pick.span.passage]
        spans = [(p.start + s, p.start + e) for s, e in sentence_spans(p.text)]
        i = next((j for j, (s, _) in enumerate(spans) if s == pick.span.start), None)
        if i is None:
            out.append((pick, pick.span.text))
            continue
        lo, hi = spans[max(0, i - 1)][0], spans[min(len(spans) - 1, i + 1)][1]
        out.append((pick, p.text[lo - p.start : hi - p.start]))
    return out
