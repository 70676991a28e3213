"""An answer's status and its reason: answered, partial, conflicting sources or abstained."""

from __future__ import annotations

from collections.abc import Sequence

from index.model import Passage
from qa.answer import Status
from qa.citations import AnswerBook
from qa.claims import NUMBER
from qa.extractive import Pick, answer_kind, answer_windows, has_kind
from qa.generators import NOT_IN_SOURCES
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


def unanswerable(
    verifier: Verifier, question: str, ranked: list[Pick], passages: list[Passage]
) -> str | None:
    """Why the best passages do not answer the question (the abstention's reason), or None.
    The verifier's answerability model reads the best-ranked sentences with their
    neighbours; a verifier without one (the rule) leaves it to the topicality gate."""
    windows = answer_windows(ranked, passages)
    if not windows:
        return None
    probs = verifier.answerable(question, [text for _, text in windows])
    if probs is None or not len(probs):
        return None
    best = float(max(probs))
    threshold = float(getattr(verifier, "answer_threshold", 0.5))
    if best < threshold:
        return (
            f"the passages found are about the question but none answers it"
            f" (answerability {best:.2f} < {threshold:.2f})"
        )
    return None
