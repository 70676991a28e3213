"""OpenTelemetry spans of one answer: where its time went.

    qa.answer                      mode, k, passages, status, timings (ms)
    ├── qa.retrieval               passages
    │   ├── qa.retrieval.dense
    │   ├── qa.retrieval.bm25
    │   └── qa.retrieval.fusion
    ├── qa.generation              model, first token (ms), tokens; an error when it failed
    ├── qa.verification            claims kept and dropped
    ├── qa.extractive              (when source sentences answer: by choice or as fallback)
    └── qa.abstention              reason (when the sources do not hold the answer)

Spans never carry the question's text unless ``record_text`` (``QA_TRACING__RECORD_TEXT``).
Tracing is off by default (a no-op tracer); with an endpoint, spans go over OTLP. The spans are
ended explicitly with their own parents (no context is attached to the thread): an answer's
stream is advanced from whichever worker thread is free.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

STAGES = ("dense", "bm25", "fusion")


def build_tracer(endpoint: str | None, protocol: str = "http", service: str = "newsqa") -> Tracer:
    """A tracer exporting over OTLP to ``endpoint``; the no-op tracer without one."""
    if not endpoint:
        return trace.NoOpTracer()
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider.get_tracer("newsqa")


class AnswerSpans:
    """The spans of one answer in the making."""

    def __init__(self, tracer: Tracer, question: str, mode: str, k: int, record_text: bool = False):
        self.tracer = tracer
        attrs: dict[str, Any] = {"qa.mode.requested": mode, "qa.k": k}
        if record_text:
            attrs["qa.question"] = question
        self.root = tracer.start_span("qa.answer", attributes=attrs)
        self._ctx = trace.set_span_in_context(self.root)

    def child(
        self, name: str, attrs: dict[str, Any] | None = None, start_ns: int | None = None
    ) -> Span:
        return self.tracer.start_span(
            name, context=self._ctx, start_time=start_ns, attributes=_clean(attrs or {})
        )

    def retrieval(self, start_ns: int, stages: dict[str, tuple[int, int]], passages: int) -> None:
        span = self.child("qa.retrieval", {"qa.passages": passages}, start_ns)
        ctx = trace.set_span_in_context(span)
        for name in STAGES:
            if name in stages:
                lo, hi = stages[name]
                self.tracer.start_span(f"qa.retrieval.{name}", context=ctx, start_time=lo).end(
                    end_time=hi
                )
        span.end()

    def generation(self, model: str, pieces: Iterable[str]) -> tuple[Span, Iterator[str]]:
        """The generation span and the model's pieces, timed as they pass."""
        span = self.child("qa.generation", {"qa.model": model})
        t0 = time.perf_counter()

        def timed() -> Iterator[str]:
            n = 0
            for piece in pieces:
                if n == 0:
                    span.set_attribute(
                        "qa.first_token_ms", round((time.perf_counter() - t0) * 1e3, 1)
                    )
                n += 1
                yield piece
            span.set_attribute("qa.pieces", n)

        return span, timed()

    def failed(self, span: Span, exc: BaseException) -> None:
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, str(exc)))
        span.set_attribute("qa.fallback", "extractive")

    def verification(self, kept: int, dropped: int) -> None:
        counts: dict[str, Any] = {"qa.claims.kept": kept, "qa.claims.dropped": dropped}
        self.child("qa.verification", counts).end()

    def finish(self, answer: Any) -> None:
        """Close the tree with the answer's status, mode and timings."""
        if answer.status == "insufficient_evidence":
            self.child("qa.abstention", {"qa.reason": answer.reason}).end()
        trace_ = answer.trace
        attrs: dict[str, Any] = {
            "qa.mode": answer.mode,
            "qa.status": answer.status,
            "qa.citations": len(answer.citations),
            "qa.warnings": len(answer.warnings),
        }
        if trace_ is not None:
            attrs["qa.passages"] = len(trace_.passages)
            attrs.update({f"qa.timings.{k}": v for k, v in trace_.timings_ms.items()})
            if trace_.usage:
                attrs["qa.tokens.prompt"] = trace_.usage["prompt_tokens"]
                attrs["qa.tokens.completion"] = trace_.usage["completion_tokens"]
        self.root.set_attributes(attrs)
        self.root.end()


def _clean(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if v is not None}
