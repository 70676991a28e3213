"""The answering engine: retrieve, generate, verify every sentence, cite exact quotes.

    Engine.answer(question, history=(), filters=None, mode=None, as_of=None) -> Answer
    Engine.stream(...) -> Iterator[Delta | CitationEvent | Final]

``answer`` is ``stream`` consumed to its ``Final`` event, so both always agree. Text is
streamed a verified sentence at a time: nothing unverified is ever shown.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import prompts
from index.chunking import sentence_spans
from index.errors import StoreUnavailable
from index.model import Filters, Passage
from index.retrieval import HybridRetriever
from index.store import ChromaStore
from qa.answer import (
    Answer,
    Citation,
    CitationEvent,
    Delta,
    Event,
    Final,
    Mode,
    Reset,
    Status,
    Trace,
    Turn,
)
from qa.errors import BackendUnavailable, GeneratorTimeout, GeneratorUnavailable, InputError
from qa.extractive import (
    INSTRUCTION,
    NUMBER,
    ExtractiveSelector,
    Pick,
    _has_kind,
    answer_kind,
    display_text,
)
from qa.generators import NOT_IN_SOURCES, Generator
from qa.rewrite import heuristic_rewrite, needs_context
from qa.timewords import analyse
from qa.verify import Span, SupportScorer, passage_sentences

log = logging.getLogger(__name__)
MAX_QUESTION_CHARS = 2000
RETRY_FAILED_S = 30.0  # a generator that failed to load is tried again after this
_MARKER = re.compile(r"\s*\[(\d{1,2})\]:?")
_ECHO = re.compile(
    r"\s*\((?=[^()]*(?:\b[A-Z]{2,}\b|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b"
    r"|\b\d{4}\b))[^()]{0,60}\)"
)
_CLAUSE = re.compile(
    r",\s|;\s|\s(?:and|but|while|which|who|after|before|as|with|to|for|in|on|at|by)\s"
)
_PREAMBLE = re.compile(
    r"^(the answer( to (this|the) question)? is:?|answer:|according to the sources,?)\s*", re.I
)


@dataclass(frozen=True)
class EngineOptions:
    k: int = 5
    support_threshold: float = 0.6
    unsupported: Literal["drop", "flag"] = "drop"
    allow_fallback: bool = True
    # "sentences": the model reads the best evidence sentences (measured better for the
    # 135M-270M local models, and 3-5x shorter prompts); "passages": whole passages.
    generator_context: Literal["sentences", "passages"] = "sentences"
    context_sentences: int = 5
    # follow-ups: "model" asks the generator for a standalone question and falls back to the
    # heuristic when it cannot or its output is unusable; "heuristic" never calls a model
    rewrite: Literal["heuristic", "model"] = "heuristic"


@dataclass
class _Claims:
    """Verified sentences and their citations, built up while streaming."""

    sentences: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    attributed: set[str] = field(default_factory=set)

    def cite(self, span: Span, passage: Passage, support: float) -> Citation:
        for c in self.citations:
            if c.chunk_id == passage.chunk_id and (c.start, c.end) == (span.start, span.end):
                return c
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
        )
        self.citations.append(c)
        return c


def _strip_title(claim: str, passages: list[Passage]) -> str:
    """Drop a passage title the model echoed as a header ('<title>: China and Russia
    proposed ...'): the title is the source's wording, not the model's claim."""
    lowered = claim.lower()
    for p in passages:
        title = " ".join(p.title.split())
        if len(title.split()) >= 3 and lowered.startswith(title.lower()):
            rest = claim[len(title) :].lstrip()
            if rest[:1] in (":", "-", "–", "—"):
                rest = rest[1:].lstrip()
                if len(rest.split()) >= 4:
                    return rest
    return claim


def attribution(p: Passage) -> str:
    """'According to PTI (23 March): ' — what and when the answer reports, from where."""
    when = p.published_date.human() if p.published_date else ""
    who = p.source or ""
    if who and when:
        return f"According to {who} ({when}): "
    if who or when:
        return f"According to {who or 'a report'}{f' of {when}' if when else ''}: "
    return ""


class Engine:
    """Cited, verified answers over the index. Generators are built on first use."""

    def __init__(
        self,
        retriever: HybridRetriever,
        store: ChromaStore,
        scorer: SupportScorer,
        generators: dict[str, Callable[[], Generator]],
        default_mode: Mode = "local",
        options: EngineOptions = EngineOptions(),
    ):
        self.retriever = retriever
        self.store = store
        self.scorer = scorer
        self.extractive = ExtractiveSelector(scorer)
        self._factories = generators
        self._generators: dict[str, Generator] = {}
        self._failed: dict[str, tuple[float, str]] = {}  # mode -> (when, why)
        self.default_mode = default_mode
        self.options = options

    # --- public contract --------------------------------------------------------------------

    def answer(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        mode: Mode | None = None,
        as_of: dt.date | None = None,
        k: int | None = None,
    ) -> Answer:
        for event in self.stream(question, history, filters, mode, as_of, k):
            if isinstance(event, Final):
                return event.answer
        raise RuntimeError("stream ended without a final answer")  # pragma: no cover

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        mode: Mode | None = None,
        as_of: dt.date | None = None,
        k: int | None = None,
    ) -> Iterator[Event]:
        question = " ".join((question or "").split())
        if not question:
            raise InputError("the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise InputError(f"the question is longer than {MAX_QUESTION_CHARS} characters")
        k = k or self.options.k
        timings: dict[str, float] = {}
        warnings: list[str] = []
        t0 = time.perf_counter()
        query, how = self._rewrite(question, history, mode or self.default_mode)
        scope = analyse(question, as_of)
        user = filters or Filters()
        eff = replace(
            user,
            date_from=user.date_from or scope.date_from,
            date_to=user.date_to or scope.date_to,
        )
        timings["rewrite_ms"] = _ms(t0)
        t1 = time.perf_counter()
        try:
            passages = self.retriever.search(query, k=k, filters=eff, recency=scope.recency)
            notes = list(scope.notes)
            if not passages and eff != user:
                notes.append("no article in the date range the question names: searched all dates")
                passages = self.retriever.search(query, k=k, filters=user, recency=scope.recency)
        except StoreUnavailable as exc:
            raise BackendUnavailable(str(exc)) from exc
        timings["retrieve_ms"] = _ms(t1)
        requested = mode or self.default_mode
        trace = Trace(
            question=question,
            query=query,
            filters=_filters_dict(eff),
            time_notes=(*notes, *([how] if how else [])),
            passages=tuple(_passage_dict(i, p) for i, p in enumerate(passages, 1)),
            prompt_id=None,
            model=None,
            timings_ms=timings,
        )

        def final(
            text: str, claims: _Claims, status: Status, reason: str, used: Mode, **more: Any
        ) -> Final:
            timings["total_ms"] = _ms(t0)
            tr = replace(trace, dropped_claims=tuple(claims.dropped), **more)
            return Final(
                Answer(
                    question,
                    text,
                    tuple(claims.citations),
                    status,
                    reason,
                    used,
                    tuple(warnings),
                    tr,
                )
            )

        if not passages:
            yield final(
                "The archive doesn't contain anything about this.",
                _Claims(),
                "insufficient_evidence",
                "no stored article matches the question",
                requested,
            )
            return
        if any(INSTRUCTION.search(p.text) for p in passages):
            warnings.append(
                "a retrieved passage contains instruction-like text; it was treated as data"
                " and not used"
            )
        t2 = time.perf_counter()
        ranked = self.extractive.rank(query, passages)
        picks = self.extractive.choose(ranked)
        timings["select_ms"] = _ms(t2)
        if not picks:
            yield final(
                "The sources I found don't answer this question.",
                _Claims(),
                "insufficient_evidence",
                "no passage sentence is relevant enough to the question",
                requested,
            )
            return

        used: Mode = requested
        generator: Generator | None = None
        if requested != "extractive":
            generator, problem = self._generator(requested)
            if generator is None:
                warnings.append(
                    f"{requested} generator unavailable ({problem}): answered extractively"
                )
                used = "extractive"
        claims = _Claims()
        raw: str | None = None
        shown = False  # model text already streamed (withdrawn with Reset if replaced)
        if generator is not None:
            t3 = time.perf_counter()
            try:
                raw_parts: list[str] = []
                context = self._context(ranked, passages)
                for event in self._generated(
                    question, passages, context, generator, claims, raw_parts, picks
                ):
                    shown = shown or isinstance(event, Delta)
                    yield event
                raw = "".join(raw_parts)
            except (GeneratorUnavailable, GeneratorTimeout) as exc:
                if not self.options.allow_fallback:
                    raise
                warnings.append(f"{requested} generator failed ({exc}): answered extractively")
                used = "extractive"
                claims = _Claims()
            timings["generate_ms"] = _ms(t3)
            kind = answer_kind(question)
            if (
                used != "extractive"
                and claims.sentences
                and kind
                and not any(_has_kind(kind, s, question) for s in claims.sentences)
            ):
                warnings.append(
                    f"the model's answer does not contain the {kind} the question asks for;"
                    " showing the most relevant source sentences instead"
                )
                claims = _Claims()
            if used != "extractive" and not claims.sentences:
                nothing = raw is not None and NOT_IN_SOURCES.lower() in raw.lower()
                warnings.append(
                    "the model said the sources do not answer this; showing the most relevant"
                    " source sentences instead"
                    if nothing
                    else "no sentence of the model's answer was supported by the sources;"
                    " showing the most relevant source sentences instead"
                )
                used = "extractive"
        if used == "extractive":
            if shown:
                yield Reset(warnings[-1] if warnings else "the model's answer was replaced")
            replaced = claims.dropped
            claims = _Claims()
            for event in self._extracted(picks, passages, claims):
                yield event
            claims.dropped = replaced  # the model's unshown sentences stay in the trace
            replaced_model = bool(replaced)
        else:
            replaced_model = False
        status, reason = self._status(claims, picks, passages, replaced_model)
        text = " ".join(claims.sentences)
        if claims.dropped and self.options.unsupported == "drop" and not replaced_model:
            text += f" (Left out: {len(claims.dropped)} sentence(s) the sources do not support.)"
        yield final(
            text,
            claims,
            status,
            reason,
            used,
            prompt_id=generator.prompt_id
            if generator is not None and used != "extractive"
            else None,
            model=generator.name if generator is not None else None,
            raw_output=raw,
        )

    def _rewrite(self, question: str, history: Sequence[Turn], mode: str) -> tuple[str, str]:
        """The standalone search query for a (follow-up) question, and how it was made."""
        fallback = heuristic_rewrite(question, history)
        if not history or not needs_context(question):
            return fallback, ""
        if self.options.rewrite != "model" or mode == "extractive":
            return fallback, "follow-up rewritten with the heuristic"
        gen, problem = self._generator(mode)
        if gen is None:
            return fallback, f"follow-up rewritten with the heuristic ({problem})"
        prompt = prompts.load("rewrite").render(
            history=[{"role": t.role, "content": t.content} for t in history[-6:]],
            question=question,
        )
        try:
            out = " ".join(gen.complete(prompt).split()).strip('"')
        except (GeneratorUnavailable, GeneratorTimeout) as exc:
            return fallback, f"follow-up rewritten with the heuristic (model failed: {exc})"
        # the rewrite must keep what the follow-up asks (most of its content words): small
        # models tend to repeat the previous question instead
        words = set(self.scorer.tokenize(question))
        kept = len(words & set(self.scorer.tokenize(out))) / max(1, len(words))
        if not out or len(out) > 300 or kept < 0.6:
            return fallback, "follow-up rewritten with the heuristic (model output unusable)"
        return out, f"follow-up rewritten by {gen.name}"

    # --- generation and verification --------------------------------------------------------

    def modes(self) -> tuple[Mode, ...]:
        """The answering modes this engine can be asked for."""
        found: list[Mode] = [m for m in ("local", "openai") if m in self._factories]
        return (*found, "extractive")

    def check_generator(self, mode: Mode | None = None) -> str | None:
        """None when ``mode``'s generator can answer now (it is loaded if needed), else why
        not. A server behind the ``openai`` mode is asked for its model list."""
        mode = mode or self.default_mode
        if mode == "extractive":
            return None
        gen, problem = self._generator(mode)
        if gen is None:
            return problem
        check = getattr(gen, "check", None)
        if check is not None:
            try:
                check()
            except (GeneratorUnavailable, GeneratorTimeout) as exc:
                return str(exc)
        return None

    def _generator(self, mode: str) -> tuple[Generator | None, str]:
        if mode in self._generators:
            return self._generators[mode], ""
        failed = self._failed.get(mode)
        if failed is not None and time.monotonic() - failed[0] < RETRY_FAILED_S:
            return None, failed[1]
        factory = self._factories.get(mode)
        if factory is None:
            return None, f"mode {mode!r} is not configured"
        try:
            gen = factory()
        except (GeneratorUnavailable, OSError, ValueError) as exc:
            log.warning("generator %s unavailable: %s", mode, exc)
            self._failed[mode] = (time.monotonic(), str(exc))
            return None, str(exc)
        self._failed.pop(mode, None)
        self._generators[mode] = gen
        return gen, ""

    def _context(self, ranked: Sequence[Pick], passages: list[Passage]) -> list[Passage]:
        """What the model reads: whole passages, or the best evidence sentences (in article
        order within each passage, passages in retrieval order)."""
        if self.options.generator_context == "passages":
            return passages
        best = sorted(
            ranked[: self.options.context_sentences], key=lambda p: (p.span.passage, p.span.start)
        )
        return [
            replace(passages[p.span.passage], text=p.span.text, start=p.span.start, end=p.span.end)
            for p in best
        ]

    def _generated(
        self,
        question: str,
        passages: list[Passage],
        context: list[Passage],
        gen: Generator,
        claims: _Claims,
        raw_parts: list[str],
        picks: Sequence[Pick],
    ) -> Iterator[Event]:
        spans = passage_sentences(passages)
        buffer = ""
        for piece in gen.stream(question, context):
            raw_parts.append(piece)
            buffer += piece
            done = sentence_spans(buffer)
            # all but the last sentence are complete; the last may still grow
            if len(done) > 1:
                cut = done[-1][0]
                for s, e in done[:-1]:
                    yield from self._verify(buffer[s:e], spans, passages, claims, picks)
                buffer = buffer[cut:]
        for s, e in sentence_spans(buffer):
            yield from self._verify(buffer[s:e], spans, passages, claims, picks)

    def _verify(
        self,
        sentence: str,
        spans: list[Span],
        passages: list[Passage],
        claims: _Claims,
        picks: Sequence[Pick],
    ) -> Iterator[Event]:
        markers = [int(m) for m in _MARKER.findall(sentence)]
        claim = _PREAMBLE.sub("", _MARKER.sub("", sentence).strip()).strip()
        claim = " ".join(_ECHO.sub("", claim).split())  # '(PTI, 23 March)' echoes the header
        claim = _strip_title(claim, passages)
        claim = claim[:1].upper() + claim[1:]
        if NOT_IN_SOURCES.lower() in claim.lower() or not claim.strip(" .:"):
            return
        if len(claim.split()) < 4:
            yield from self._short_answer(claim, passages, claims, picks)
            return
        if any(claim == s.split(" [")[0].split(": ", 1)[-1] for s in claims.sentences):
            return  # the model repeated itself
        # a marker the model wrote narrows the search to that passage, if it names one
        named = [m - 1 for m in markers if 1 <= m <= len(passages)]
        pool = [s for s in spans if s.passage in named] or spans
        i, support = self.scorer.best(claim, pool)
        if named and support < self.options.support_threshold and pool is not spans:
            pool = spans
            i, support = self.scorer.best(claim, pool)
        if i < 0 or support < self.options.support_threshold:
            trimmed = self._supported_prefix(claim, pool)
            if trimmed is not None:
                claim, i, support = trimmed
        if i < 0 or support < self.options.support_threshold:
            claims.dropped.append(
                {
                    "sentence": claim,
                    "support": round(support, 3),
                    "best_quote": pool[i].text if i >= 0 else None,
                }
            )
            if self.options.unsupported == "flag":
                shown = f"{claim} [unsupported]"
                claims.sentences.append(shown)
                yield Delta(shown + " ")
            return
        span = pool[i]
        passage = passages[span.passage]
        yield from self._emit(claim, span, passage, support, claims)

    def _short_answer(
        self, claim: str, passages: list[Passage], claims: _Claims, picks: Sequence[Pick]
    ) -> Iterator[Event]:
        """A bare answer ('Facebook', 'Tampa Bay, Florida'): supported when it occurs word
        for word in one of the sentences that best answer the question."""
        entity = claim.strip(" .:;,")
        pattern = re.compile(rf"(?<!\w){re.escape(entity)}(?!\w)", re.I)
        for pick in picks[:3]:
            if pattern.search(pick.span.text):
                passage = passages[pick.span.passage]
                yield from self._emit(entity, pick.span, passage, 1.0, claims)
                return
        claims.dropped.append({"sentence": claim, "support": 0.0, "best_quote": None})

    def _supported_prefix(self, claim: str, pool: list[Span]) -> tuple[str, int, float] | None:
        """A sentence joining several facts: keep its longest leading part that is supported
        ('X won the title, defeating Y in Z' -> 'X won the title'). A short head may fall
        below the threshold where a longer one passes ('X proposed.' vs 'X proposed to
        establish a platform.'), so every head is tried."""
        cuts = [m.start() for m in _CLAUSE.finditer(claim)]
        best: tuple[str, int, float] | None = None
        for cut in cuts:
            head = claim[:cut].rstrip(" ,;:") + "."
            if head.count("(") != head.count(")"):
                continue
            if len(head.split()) < 4:
                continue
            i, support = self.scorer.best(head, pool)
            if support >= self.options.support_threshold:
                best = (head, i, support)
        return best

    def _extracted(
        self, picks: Sequence[Any], passages: list[Passage], claims: _Claims
    ) -> Iterator[Event]:
        for pick in picks:
            passage = passages[pick.span.passage]
            yield from self._emit(display_text(pick.span.text), pick.span, passage, 1.0, claims)

    def _emit(
        self, claim: str, span: Span, passage: Passage, support: float, claims: _Claims
    ) -> Iterator[Event]:
        before = len(claims.citations)
        cite = claims.cite(span, passage, support)
        lead = ""
        if passage.article_id not in claims.attributed:
            claims.attributed.add(passage.article_id)
            lead = attribution(passage)
        body = claim.rstrip()
        shown = f"{lead}{body} [{cite.n}]"
        claims.sentences.append(shown)
        yield Delta(shown + " ")
        if len(claims.citations) > before:
            yield CitationEvent(cite)

    def _status(
        self,
        claims: _Claims,
        picks: Sequence[Any],
        passages: list[Passage],
        replaced_model: bool = False,
    ) -> tuple[Status, str]:
        if not claims.citations:
            return "insufficient_evidence", "no sentence of the answer is supported by the sources"
        conflict = _numeric_conflict(claims, picks, passages, self.scorer)
        if conflict:
            return "conflicting_sources", conflict
        if claims.dropped and not replaced_model:
            n = len(claims.dropped)
            return "partial", f"{n} sentence(s) were left out because no source supports them"
        n = len(claims.citations)
        return "answered", f"every sentence is supported by its cited quote ({n} citation(s))"


def _numeric_conflict(
    claims: _Claims, picks: Sequence[Any], passages: list[Passage], scorer: SupportScorer
) -> str:
    """Two highly relevant sentences from different articles that say the same thing (close
    in meaning, same words) but give different figures: report it and cite both."""
    if not claims.citations or len(picks) < 2:
        return ""
    first = claims.citations[0]
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
            cite = next((c for c in claims.citations if c.quote == pick.span.text), None)
            if cite is None:
                return ""
            return f"sources disagree: [{first.n}] and [{cite.n}] give different figures"
    return ""


def _ms(t: float) -> float:
    return round((time.perf_counter() - t) * 1000, 1)


def _filters_dict(f: Filters) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in asdict(f).items() if v}


def _passage_dict(n: int, p: Passage) -> dict[str, Any]:
    return {
        "n": n,
        "chunk_id": p.chunk_id,
        "article_id": p.article_id,
        "title": p.title,
        "source": p.source,
        "published": p.published,
        "text": p.text,
        "score": round(p.score, 4),
        "scores": {k: round(v, 4) for k, v in p.scores.items()},
    }
