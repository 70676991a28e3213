"""An answer's status and its reason: answered, partial, conflicting sources or abstained."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.model import Passage
from qa.answer import Status
from qa.citations import AnswerBook
from qa.claims import NUMBER
from qa.extractive import (
    ExtractiveSelector,
    Pick,
    answer_kind,
    answer_windows,
    has_kind,
    reranked,
)
from qa.generators import NOT_IN_SOURCES
from qa.options import EngineOptions
from qa.similarity import TextSimilarity
from qa.verifier import Verifier


def answer_status(
    book: AnswerBook,
    picks: Sequence[Pick],
    passages: list[Passage],
    scorer: TextSimilarity,
    replaced_model: bool = False,
) -> tuple[Status, str]:
    if not book.citations:
        return "insufficient_evidence", "no sentence of the answer is supported by the sources"
    conflict = numeric_conflict(book, picks, passages, scorer)
    if conflict:
        return "conflicting_sources", conflict
    if book.dropped and not replaced_model:
        n = len(book.dropped)
        return "partial", f"{n} sentence(s) were left out because no source supports them"
    n = len(book.citations)
    return "answered", f"every sentence is supported by its cited quote ({n} citation(s))"


def numeric_conflict(
    book: AnswerBook, picks: Sequence[Pick], passages: list[Passage], scorer: TextSimilarity
) -> str:
    """Two highly relevant sentences from different articles that say the same thing (close
    in meaning, same words) but give different figures: report it and cite both."""
    if not book.citations or len(picks) < 2:
        return ""
    first = book.citations[0]
    nums_a = set(NUMBER.findall(first.quote))
    if not nums_a:
        return ""
    top = picks[0].relevance
    for pick in picks[1:]:
        p = passages[pick.span.passage]
        if p.article_id == first.article_id or pick.relevance < top - 0.05:
            continue
        nums_b = set(NUMBER.findall(pick.span.text))
        if not nums_b or nums_a & nums_b:
            continue
        a_text, b_text = NUMBER.sub("", first.quote), NUMBER.sub("", pick.span.text)
        overlap = min(scorer.lexical(a_text, b_text), scorer.lexical(b_text, a_text))
        similar = float(scorer.embed(first.quote) @ scorer.embed(pick.span.text))
        if overlap >= 0.6 and similar >= 0.8:
            cite = next((c for c in book.citations if c.quote == pick.span.text), None)
            if cite is None:
                return ""
            return f"sources disagree: [{first.n}] and [{cite.n}] give different figures"
    return ""


def model_answer_gate(book: AnswerBook, question: str, raw: str | None) -> str | None:
    """Why the model's verified sentences must be replaced by the extractive answer (the
    warning to show), or None when they stand: nothing survived verification, or the question
    asks for a kind of thing (a name, a date, a number) that no sentence holds."""
    kind = answer_kind(question)
    shown = [s.render() for s in book.sentences]
    if shown and kind and not any(has_kind(kind, s, question) for s in shown):
        return (
            f"the model's answer does not contain the {kind} the question asks for;"
            " showing the most relevant source sentences instead"
        )
    if not shown:
        if raw is not None and NOT_IN_SOURCES.lower() in raw.lower():
            return (
                "the model said the sources do not answer this; showing the most relevant"
                " source sentences instead"
            )
        return (
            "no sentence of the model's answer was supported by the sources;"
            " showing the most relevant source sentences instead"
        )
    return None


@dataclass(frozen=True)
class Answerability:
    """The answerability model's reading of the best-ranked sentences: each sentence with
    its neighbours (``windows``: does the passage answer?) and alone (``sentences``: is this
    the sentence that answers?)."""

    windows: list[float]
    sentences: list[float]
    threshold: float

    def reason(self) -> str | None:
        """Why the best passages do not answer the question (the abstention's), or None."""
        best = max(self.windows, default=0.0)
        if best < self.threshold:
            return (
                f"the passages found are about the question but none answers it"
                f" (answerability {best:.2f} < {self.threshold:.2f})"
            )
        return None


def answerability(
    verifier: Verifier, question: str, windows: list[tuple[Pick, str]]
) -> Answerability | None:
    """The verifier's answerability of the best-ranked sentences (``answer_windows``), in one
    batch; None for a verifier without an answerability model (the rule)."""
    if not windows:
        return None
    texts = [text for _, text in windows] + [pick.span.text for pick, _ in windows]
    probs = verifier.answerable(question, texts)
    if probs is None or len(probs) != len(texts):
        return None
    values = [float(p) for p in probs]
    threshold = float(getattr(verifier, "answer_threshold", 0.5))
    return Answerability(values[: len(windows)], values[len(windows) :], threshold)


_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")
# years a dated passage names relative to its own year ("will open next year")
_RELATIVE_YEAR = re.compile(r"\b(last|next) year\b", re.IGNORECASE)


def absent_years(question: str, passages: Sequence[Passage]) -> tuple[str, ...]:
    """The years named in ``question`` that none of ``passages`` mentions or was published
    in: a passage about the 2020 final does not answer a question about the 2021 one. A dated
    passage's "last year" and "next year" name the years around its publication."""
    asked = sorted(set(_YEAR.findall(question)))
    held: set[str] = set()
    for p in passages:
        held |= set(_YEAR.findall(p.text))
        if p.published and p.published[:4].isdigit():
            year = int(p.published[:4])
            held.add(str(year))
            for word in _RELATIVE_YEAR.findall(p.text):
                held.add(str(year + (1 if word.lower() == "next" else -1)))
    return tuple(y for y in asked if y not in held)


def select_sentences(
    extractive: ExtractiveSelector,
    verifier: Verifier,
    options: EngineOptions,
    question: str,
    query: str,
    passages: list[Passage],
) -> tuple[list[Pick], list[Pick], str | None]:
    """The ranked passage sentences, the chosen ones, and why they do not answer (or None)."""
    ranked = extractive.rank(query, passages)
    picks = extractive.choose(ranked)
    if not picks:
        return ranked, picks, "no passage sentence is relevant enough to the question"
    windows = answer_windows(ranked, passages)
    missing = absent_years(question, [passages[p.span.passage] for p, _ in windows])
    if missing:
        years = " or ".join(missing)
        reason = f"the passages found are about the question but none mentions {years}"
        return ranked, picks, reason + ", the year it asks about"
    if not options.answerability_gate and not options.answer_weight:
        return ranked, picks, None  # the answerability model is not used: not run
    judged = answerability(verifier, question, windows)
    if judged is None:
        return ranked, picks, None
    ranked = reranked(ranked, judged.sentences, options.answer_weight)
    gate = judged.reason() if options.answerability_gate else None
    return ranked, extractive.choose(ranked), gate
