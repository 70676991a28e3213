"""Citations and shown sentences: the answer as it is built while streaming.

``AnswerBook`` numbers citations in order of first use (the same span cited twice is one
citation), attributes the first sentence from each article ('According to PTI (23 March): ',
with the article's headline when it says more than the sentence), and turns every shown
sentence into the stream's ``Delta`` and ``CitationEvent`` events.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from index.model import Filters, Passage
from qa.answer import (
    Answer,
    Citation,
    CitationEvent,
    Delta,
    Event,
    Final,
    Mode,
    Sentence,
    Status,
    Trace,
    filters_dict,
    passage_dict,
    render_text,
)
from qa.similarity import Span
from qa.tracing import AnswerSpans

# a site name after a headline: 'Man to walk marathon backwards | The Week UK', '... - CNN'
_SITE = re.compile(r"\s+[|–—-]\s+[^|–—-]{1,40}$")
_WORD = re.compile(r"\w+")


def headline(p: Passage, shown: str) -> str:
    """The article's title (without a trailing site name) when it says more than the sentence
    ``shown`` from it (two or more words, over a third of the title's, not in the sentence): a
    news sentence often calls by description ('the two-time champion', 'the upcoming
    live-action film') what its headline names."""
    title = _SITE.sub("", p.title or "").strip()
    words = set(_WORD.findall(title.lower()))
    new = len(words - set(_WORD.findall(shown.lower())))
    return title if new >= 2 and new > len(words) / 3 else ""


def attribution(p: Passage, shown: str = "") -> str:
    """'According to PTI (23 March), “China, Russia … propose regional security dialogue
    platform”: ' — from where and when the answer reports, under which headline."""
    when = p.published_date.human() if p.published_date else ""
    who = p.source or ""
    head = headline(p, shown)
    under = f", “{head}”" if head else ""
    if who and when:
        return f"According to {who} ({when}){under}: "
    if who or when:
        return f"According to {who or 'a report'}{f' of {when}' if when else ''}{under}: "
    return f"“{head}”: " if head else ""


@dataclass
class AnswerBook:
    """Shown sentences, their citations, and the model sentences left out."""

    sentences: list[Sentence] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    attributed: set[str] = field(default_factory=set)
    copies: dict[str, list[Passage]] = field(default_factory=dict)  # story -> its other copies

    def cite(self, span: Span, passage: Passage, support: float) -> Citation:
        for c in self.citations:
            if c.chunk_id == passage.chunk_id and (c.start, c.end) == (span.start, span.end):
                return c
        others = self.copies.get(passage.story or passage.article_id, [])
        outlets = {passage.source or passage.article_id} | {
            o.source or o.article_id for o in others
        }
        c = Citation(
            n=len(self.citations) + 1,
            article_id=passage.article_id,
            title=passage.title,
            chunk_id=passage.chunk_id,
            quote=span.text,
            start=span.start,
            end=span.end,
            support=round(support, 3),
            source=passage.source,
            published=passage.published,
            url=passage.url,
            also_in=tuple(dict.fromkeys(o.article_id for o in others)),
            outlets=len(outlets),
        )
        self.citations.append(c)
        return c

    def has(self, claim: str) -> bool:
        """The model already said this (small models repeat themselves)."""
        return any(claim == s.text for s in self.sentences)

    def emit(
        self,
        claim: str,
        span: Span,
        passage: Passage,
        support: float,
        kind: Literal["model", "quote"],
    ) -> Iterator[Event]:
        """Show ``claim`` cited to ``span``: a Delta, and the citation when it is new."""
        before = len(self.citations)
        cite = self.cite(span, passage, support)
        lead = ""
        if passage.article_id not in self.attributed:
            self.attributed.add(passage.article_id)
            lead = attribution(passage, claim)
        sentence = Sentence(claim.rstrip(), (cite.n,), kind, lead)
        self.sentences.append(sentence)
        yield Delta(sentence.render() + " ")
        if len(self.citations) > before:
            yield CitationEvent(cite)

    def flag(self, claim: str) -> Iterator[Event]:
        """Show an unsupported model sentence marked as such (``unsupported=flag``)."""
        sentence = Sentence(claim, (), "model", supported=False)
        self.sentences.append(sentence)
        yield Delta(sentence.render() + " ")


def elapsed_ms(t: float) -> float:
    """Milliseconds since ``t`` (a ``time.perf_counter()`` reading), to 0.1 ms."""
    return round((time.perf_counter() - t) * 1000, 1)


@dataclass
class AnswerDraft:
    """One answer in the making: its trace, warnings and book, and the ``Final`` event that
    ends its stream."""

    question: str
    trace: Trace
    t0: float
    warnings: list[str]
    book: AnswerBook
    spans: AnswerSpans
    copies: dict[str, list[Passage]] = field(default_factory=dict)

    def new_book(self) -> AnswerBook:
        """An empty book that knows the story copies set aside (a redo of the answer)."""
        return AnswerBook(copies=self.copies)

    @classmethod
    def begin(
        cls,
        question: str,
        query: str,
        filters: Filters,
        notes: tuple[str, ...],
        passages: list[Passage],
        timings: dict[str, float],
        t0: float,
        spans: AnswerSpans,
    ) -> AnswerDraft:
        """The draft of an answer to ``question`` over the passages retrieved for it."""
        trace = Trace(
            question=question,
            query=query,
            filters=filters_dict(filters),
            time_notes=notes,
            passages=tuple(passage_dict(i, p) for i, p in enumerate(passages, 1)),
            prompt_id=None,
            model=None,
            timings_ms=timings,
        )
        return cls(question, trace, t0, [], AnswerBook(), spans)

    def final(self, status: Status, reason: str, mode: Mode, text: str = "", **more: Any) -> Final:
        self.trace.timings_ms["total_ms"] = elapsed_ms(self.t0)
        left_out = len(self.book.dropped) if more.pop("left_out", False) else 0
        trace = replace(self.trace, dropped_claims=tuple(self.book.dropped), **more)
        sentences = tuple(self.book.sentences)
        answer = Answer(
            self.question,
            text or render_text(sentences, left_out),
            tuple(self.book.citations),
            status,
            reason,
            mode,
            tuple(self.warnings),
            trace,
            sentences,
            left_out,
        )
        self.spans.finish(answer)
        return Final(answer)
