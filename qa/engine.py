"""The answering engine: retrieve, generate, verify every sentence, cite exact quotes.

    Engine.answer(question, *, history=(), filters=None, mode=None, as_of=None, k=None) -> Answer
    Engine.stream(question, *, ...) -> Iterator[Delta | CitationEvent | Reset | Final]

``answer`` is ``stream`` consumed to its ``Final`` event, so both always agree. Text is
streamed a verified sentence at a time: nothing unverified is ever shown. This module is the
orchestration only; each step has its own module (search, extractive, context, align,
citations, status, rewrite, lifecycle).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, Tracer

from index.model import Filters, Passage
from index.retrieval import HybridRetriever
from qa.align import Aligner
from qa.answer import Answer, Delta, Event, Final, Mode, Reset, Turn
from qa.archive import translated
from qa.citations import AnswerDraft, elapsed_ms
from qa.context import model_context
from qa.errors import GeneratorTimeout, GeneratorUnavailable, InputError
from qa.extractive import INSTRUCTION, ExtractiveSelector, Pick, display_text
from qa.generators import Generator, usage_of
from qa.lifecycle import GeneratorPool
from qa.options import EngineOptions
from qa.rewrite import rewrite_query
from qa.search import one_per_story, scoped_search
from qa.status import answer_status, model_answer_gate, select_sentences
from qa.tracing import AnswerSpans
from qa.verifier import Verifier

MAX_QUESTION_CHARS = 2000


class Engine:
    """Cited, verified answers over the index. Generators are built on first use."""

    def __init__(
        self,
        retriever: HybridRetriever,
        verifier: Verifier,
        generators: dict[str, Callable[[], Generator]],
        default_mode: Mode = "local",
        options: EngineOptions | None = None,
        tracer: Tracer | None = None,
    ):
        self.retriever = retriever
        self.verifier = verifier
        self.similarity = verifier.similarity
        options = options or EngineOptions()
        self.extractive = ExtractiveSelector(self.similarity, min_topical=options.min_topical)
        self.generators = GeneratorPool(generators)
        self.aligner = Aligner(verifier, options.unsupported)
        self.default_mode = default_mode
        self.options = options
        self.tracer = tracer or trace.NoOpTracer()

    def modes(self) -> tuple[Mode, ...]:
        """The answering modes this engine can be asked for."""
        return self.generators.modes()

    def check_generator(self, mode: Mode | None = None) -> str | None:
        """None when ``mode``'s generator can answer now, else why not."""
        return self.generators.check(mode or self.default_mode)

    def answer(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        mode: Mode | None = None,
        as_of: dt.date | None = None,
        k: int | None = None,
    ) -> Answer:
        """``stream`` consumed to its final answer."""
        events = self.stream(
            question, history=history, filters=filters, mode=mode, as_of=as_of, k=k
        )
        for event in events:
            if isinstance(event, Final):
                return event.answer
        raise RuntimeError("stream ended without a final answer")  # pragma: no cover

    def stream(
        self,
        question: str,
        *,
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
        requested: Mode = mode or self.default_mode
        t0 = time.perf_counter()
        model = None
        if self.options.rewrite == "model" and requested != "extractive":
            model = lambda: self.generators.get(requested)  # noqa: E731
        query, how = rewrite_query(question, history, model, self.similarity.tokenize)
        timings = {"rewrite_ms": elapsed_ms(t0)}
        k = k or self.options.k
        spans = AnswerSpans(self.tracer, question, requested, k, self.options.record_text)
        t1, t1_ns = time.perf_counter(), time.time_ns()
        stages: dict[str, tuple[int, int]] = {}
        with translated():
            found = scoped_search(
                self.retriever,
                question,
                query,
                2 * k,
                filters,
                as_of,
                stages=stages,
                recency=self.options.recency,
            )
        passages, copies = one_per_story(found.passages, k)  # one slot per story
        timings["retrieve_ms"] = elapsed_ms(t1)
        notes = (*found.notes, *([how] if how else []))
        spans.retrieval(t1_ns, stages, len(passages))
        run = AnswerDraft.begin(question, query, found.filters, notes, passages, timings, t0, spans)
        run.warnings.extend([found.widened] if found.widened else [])
        run.book.copies = run.copies = copies
        if not passages:
            yield run.final(
                "insufficient_evidence",
                "no stored article matches the question",
                requested,
                "The archive doesn't contain anything about this.",
            )
            return
        if any(INSTRUCTION.search(p.text) for p in passages):
            run.warnings.append(
                "a retrieved passage contains instruction-like text; it was treated as data"
                " and not used"
            )
        t2 = time.perf_counter()
        with translated():
            ranked, picks, why = select_sentences(
                self.extractive, self.verifier, self.options, question, query, passages
            )
        timings["select_ms"] = elapsed_ms(t2)
        if why:
            text = "The sources I found don't answer this question."
            yield run.final("insufficient_evidence", why, requested, text)
            return
        yield from self._answer(run, requested, question, passages, ranked, picks)

    def _answer(
        self,
        run: AnswerDraft,
        requested: Mode,
        question: str,
        passages: list[Passage],
        ranked: list[Pick],
        picks: list[Pick],
    ) -> Iterator[Event]:
        """Generate and verify, or fall back to the extractive sentences, then finish."""
        used: Mode = requested
        generator: Generator | None = None
        if requested != "extractive":
            generator, problem = self.generators.get(requested)
            if generator is None:
                run.warnings.append(
                    f"{requested} generator unavailable ({problem}): answered extractively"
                )
                used = "extractive"
        raw: str | None = None
        shown = False  # model text already streamed (withdrawn with Reset if replaced)
        if generator is not None:
            t3 = time.perf_counter()
            raw_parts: list[str] = []
            span: Span = INVALID_SPAN
            try:
                context = model_context(
                    ranked, passages, self.options.generator_context, self.options.context_sentences
                )
                span, pieces = run.spans.generation(
                    generator.name, generator.stream(question, context)
                )
                for event in self.aligner.align_stream(
                    pieces, passages, run.book, picks, raw_parts
                ):
                    shown = shown or isinstance(event, Delta)
                    yield event
                raw = "".join(raw_parts)
                run.spans.verification(len(run.book.sentences), len(run.book.dropped))
            except (GeneratorUnavailable, GeneratorTimeout) as exc:
                run.spans.failed(span, exc)
                if not self.options.allow_fallback:
                    raise
                run.warnings.append(f"{requested} generator failed ({exc}): answered extractively")
                used = "extractive"
                run.book = run.new_book()
            finally:
                span.end()
            run.trace.timings_ms["generate_ms"] = elapsed_ms(t3)
            replaced_why = (
                model_answer_gate(run.book, question, raw) if used != "extractive" else None
            )
            if replaced_why:
                run.warnings.append(replaced_why)
                dropped = run.book.dropped
                run.book = run.new_book()
                run.book.dropped = dropped
                used = "extractive"
        replaced_model = False
        if used == "extractive":
            if shown:
                yield Reset(run.warnings[-1] if run.warnings else "the model's answer was replaced")
            replaced = run.book.dropped
            run.book = run.new_book()
            quoting = run.spans.child("qa.extractive", {"qa.sentences": len(picks)})
            for pick in picks:
                passage = passages[pick.span.passage]
                quote = display_text(pick.span.text)
                yield from run.book.emit(quote, pick.span, passage, 1.0, "quote")
            quoting.end()
            run.book.dropped = replaced  # the model's unshown sentences stay in the trace
            replaced_model = bool(replaced)
        status, reason = answer_status(run.book, picks, passages, self.similarity, replaced_model)
        left_out = (
            bool(run.book.dropped) and self.options.unsupported == "drop" and not replaced_model
        )
        yield run.final(
            status,
            reason,
            used,
            prompt_id=generator.prompt_id
            if generator is not None and used != "extractive"
            else None,
            model=generator.name if generator is not None else None,
            raw_output=raw,
            usage=usage_of(generator) if raw is not None else None,
            left_out=left_out,
        )
