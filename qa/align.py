"""Alignment: each sentence a model wrote is shown only cited to the passage sentence that
supports it, cut to its longest supported leading clause, or else left out (or flagged).

Small local models do not write reliable ``[n]`` markers: a marker narrows the search to the
passage it names when that passage supports the claim, and every passage is searched otherwise.

The reader checks a sentence against the one quote it is shown with, so every figure of the
sentence (numbers, years, 'three') must be in that quote: a figure the verifier let through
from a neighbouring sentence, or one the model rounded or made up ('US$19 billion' from
'US$19.3 billion', 'April 29, 2015' from 'April 29'), leaves the sentence out (or cut to a
clause whose figures are quoted). The same holds for names: each capitalised name of the
sentence is a word of its quote or of the article's title ('Tampa Bay, Florida' against a quote
that ends at 'Tampa Bay', a list the model extended past its quote).

A sentence is cut only where the cut keeps its meaning: at a comma, a semicolon or a
conjunction, never before a restrictive 'who' or 'which' (cutting 'the first Sexiest Man Alive
since 2019 who is not part of the Marvel Universe' before 'who' changes what it says).
A model sentence that copies the start of its quote likewise ends where a phrase ends: not
mid-word, not after a word that needs what followed ('... appears.' from '... appears to have').
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from index.chunking import sentence_spans
from index.model import Passage
from qa.answer import Event
from qa.citations import AnswerBook
from qa.claims import names, numbers, parse_claim, plain_words
from qa.extractive import Pick, display_text
from qa.generators import NOT_IN_SOURCES
from qa.similarity import Span, passage_sentences
from qa.verifier import Verifier

_CLAUSE = re.compile(r",\s|;\s|\s(?:and|but|while|after|before|as|with|to|for|in|on|at|by)\s")
# a head that ends on one of these words was cut mid-phrase ('... in order.', '... due.'):
# function words, auxiliaries, and verbs that need what follows them ('appears to have ...',
# 'is likely to ...', 'plans to ...')
_DANGLING = frozenset(
    {"able", "unable", "going", "due", "according", "prior", "so", "than", "rather", "such"}
    | {"very", "the", "a", "an", "of", "not", "is", "are", "was", "were", "be", "been", "being"}
    | {"has", "have", "had", "will", "would", "can", "could", "must", "should", "may", "might"}
    | {"appear", "appears", "appeared", "seem", "seems", "seemed", "likely", "unlikely", "about"}
    | {"plan", "plans", "planned", "want", "wants", "wanted", "expect", "expects", "expected"}
    | {"hope", "hopes", "hoped", "try", "tries", "tried", "attempt", "attempts", "attempted"}
    | {"need", "needs", "needed", "fail", "fails", "failed", "refuse", "refuses", "refused"}
    | {"decide", "decides", "decided", "agree", "agrees", "agreed", "vow", "vows", "vowed"}
    | {"pledge", "pledges", "pledged", "promise", "promises", "promised", "threatened"}
    | {"supposed", "meant", "poised", "slated", "scheduled", "intends", "intended", "aims"}
)


def dangles(head: str) -> bool:
    """``head`` ends on a word that needs what followed it ('X appears.', '... in order.')."""
    last = [w.strip(".,;:").lower() for w in head.split()[-2:]]
    return bool(last) and (last[-1] in _DANGLING or last == ["in", "order"])


def cut_mid_phrase(claim: str, quote: str) -> bool:
    """``claim`` copies the start of ``quote`` (or of the quote without its dateline) and stops
    where the quote goes on, mid-word or after a word that needs what follows: 'The Instagram
    acquisition, announced on April 9, 2012, appears.' from '... appears to have ...'."""
    head = " ".join(claim.split()).rstrip(" .").lower()
    for text in {" ".join(quote.split()), " ".join(display_text(quote).split())}:
        rest = text[len(head) :]
        goes_on = text.lower().startswith(head) and rest.strip(" .!?\"'”’)")
        if goes_on and (rest[:1].isalnum() or (rest[:1] == " " and dangles(head))):
            return True
    return False


@dataclass
class Aligner:
    verifier: Verifier
    unsupported: Literal["drop", "flag"] = "drop"

    def align(
        self,
        sentence: str,
        spans: list[Span],
        passages: list[Passage],
        book: AnswerBook,
        picks: Sequence[Pick],
    ) -> Iterator[Event]:
        """Show ``sentence`` cited to its best support, or record it as dropped."""
        claim, markers = parse_claim(sentence, passages)
        if NOT_IN_SOURCES.lower() in claim.lower() or not claim.strip(" .:"):
            return
        if len(claim.split()) < 4:
            yield from self._short_answer(claim, passages, book, picks)
            return
        if book.has(claim):
            return  # the model repeated itself
        named = [m - 1 for m in markers if 1 <= m <= len(passages)]
        pool = [s for s in spans if s.passage in named] or spans
        i, support = self.verifier.best(claim, pool)
        if named and support < self.verifier.threshold and pool is not spans:
            pool = spans
            i, support = self.verifier.best(claim, pool)
        if not self._shown(claim, pool, i, support, passages):
            trimmed = self._supported_prefix(claim, pool, passages)
            if trimmed is not None:
                claim, i, support = trimmed
        if not self._shown(claim, pool, i, support, passages):
            book.dropped.append(
                {
                    "sentence": claim,
                    "support": round(support, 3),
                    "best_quote": pool[i].text if i >= 0 else None,
                    "reason": "unsupported"
                    if i < 0 or support < self.verifier.threshold
                    else self._missing(claim, pool[i], passages),
                }
            )
            if self.unsupported == "flag":
                yield from book.flag(claim)
            return
        span = pool[i]
        yield from book.emit(claim, span, passages[span.passage], support, "model")

    def align_stream(
        self,
        pieces: Iterable[str],
        passages: list[Passage],
        book: AnswerBook,
        picks: Sequence[Pick],
        raw_parts: list[str],
    ) -> Iterator[Event]:
        """A model's streamed text verified a complete sentence at a time (the raw text is
        collected in ``raw_parts``)."""
        spans = passage_sentences(passages)
        buffer = ""
        for piece in pieces:
            raw_parts.append(piece)
            buffer += piece
            done = sentence_spans(buffer)
            # all but the last sentence are complete; the last may still grow
            if len(done) > 1:
                cut = done[-1][0]
                for s, e in done[:-1]:
                    yield from self.align(buffer[s:e], spans, passages, book, picks)
                buffer = buffer[cut:]
        for s, e in sentence_spans(buffer):
            yield from self.align(buffer[s:e], spans, passages, book, picks)

    def _short_answer(
        self, claim: str, passages: list[Passage], book: AnswerBook, picks: Sequence[Pick]
    ) -> Iterator[Event]:
        """A bare answer ('Facebook', 'Tampa Bay, Florida'): supported when it occurs word
        for word in one of the sentences that best answer the question."""
        entity = claim.strip(" .:;,")
        pattern = re.compile(rf"(?<!\w){re.escape(entity)}(?!\w)", re.I)
        for pick in picks[:3]:
            if pattern.search(pick.span.text):
                passage = passages[pick.span.passage]
                yield from book.emit(entity, pick.span, passage, 1.0, "model")
                return
        book.dropped.append({"sentence": claim, "support": 0.0, "best_quote": None})

    def _shown(
        self, claim: str, pool: list[Span], i: int, support: float, passages: list[Passage]
    ) -> bool:
        """Supported, and every figure and name of the claim is in the quote it would be
        shown with (a name may also come from the article's title)."""
        if i < 0 or support < self.verifier.threshold:
            return False
        return not self._missing(claim, pool[i], passages)

    @staticmethod
    def _missing(claim: str, span: Span, passages: list[Passage]) -> str:
        """Why the reader could not check ``claim`` against ``span`` alone ('' if it can)."""
        if not numbers(claim, words=True) <= numbers(span.text, words=True):
            return "a figure not in its quote"
        known = plain_words(span.text) | plain_words(passages[span.passage].title)
        if not names(claim) <= known:
            return "a name not in its quote"
        if cut_mid_phrase(claim, span.text):
            return "its quote cut mid-phrase"
        return ""

    def _supported_prefix(
        self, claim: str, pool: list[Span], passages: list[Passage]
    ) -> tuple[str, int, float] | None:
        """A sentence joining several facts: keep its longest leading part that is supported
        ('X won the title, defeating Y in Z' -> 'X won the title'). A short head may fall
        below the threshold where a longer one passes ('X proposed.' vs 'X proposed to
        establish a platform.'), so every head is tried."""
        best: tuple[str, int, float] | None = None
        for m in _CLAUSE.finditer(claim):
            head = claim[: m.start()].rstrip(" ,;:") + "."
            words = head.split()
            if head.count("(") != head.count(")") or len(words) < 4 or dangles(head):
                continue
            i, support = self.verifier.best(head, pool)
            if self._shown(head, pool, i, support, passages):
                best = (head, i, support)
        return best
