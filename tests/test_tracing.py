"""The span tree of one answer, read from OpenTelemetry's in-memory exporter: a local answer
and an extractive fallback (hash embedder, scripted model: milliseconds)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from qa.engine import Engine
from qa.errors import GeneratorUnavailable
from qa.options import EngineOptions
from tests.test_engine_fast import PROPOSE_Q, TRUE, parts  # noqa: F401  (the fixture)


@pytest.fixture
def traced():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter, provider.get_tracer("test")


def tree(exporter) -> dict[str, list[str]]:
    spans = exporter.get_finished_spans()
    names = {s.context.span_id: s.name for s in spans}
    out: dict[str, list[str]] = {}
    for s in spans:
        parent = names.get(s.parent.span_id) if s.parent else None
        out.setdefault(parent or "", []).append(s.name)
    return {k: sorted(v) for k, v in out.items()}


def engine(index, traced, gen, **opts):
    _, tracer = traced
    _, _, retriever, verifier = index
    options = EngineOptions(min_topical=0.25, **opts)
    return Engine(retriever, verifier, {"local": lambda: gen}, "local", options, tracer=tracer)


def test_the_spans_of_a_local_answer(parts, traced, scripted) -> None:  # noqa: F811
    exporter, _ = traced
    answer = engine(parts, traced, scripted(TRUE)).answer(PROPOSE_Q)
    assert answer.mode == "local"
    assert tree(exporter) == {
        "": ["qa.answer"],
        "qa.answer": ["qa.generation", "qa.retrieval", "qa.verification"],
        "qa.retrieval": ["qa.retrieval.bm25", "qa.retrieval.dense", "qa.retrieval.fusion"],
    }
    spans = {s.name: s for s in exporter.get_finished_spans()}
    root = spans["qa.answer"].attributes
    assert root["qa.mode"] == "local" and root["qa.status"] == "answered" and root["qa.k"] == 5
    assert root["qa.passages"] >= 1 and root["qa.timings.total_ms"] > 0
    assert "qa.question" not in root  # no question text unless asked for
    assert spans["qa.generation"].attributes["qa.model"] == "scripted"
    assert spans["qa.generation"].attributes["qa.first_token_ms"] >= 0
    assert spans["qa.verification"].attributes["qa.claims.kept"] == 1
    dense = spans["qa.retrieval.dense"]
    assert spans["qa.retrieval"].start_time <= dense.start_time <= dense.end_time


def test_the_spans_of_an_extractive_fallback(parts, traced, scripted) -> None:  # noqa: F811
    exporter, _ = traced
    gen = scripted(TRUE, fail_after=0, error=GeneratorUnavailable("model crashed"))
    answer = engine(parts, traced, gen, record_text=True).answer(PROPOSE_Q)
    assert answer.mode == "extractive"
    assert tree(exporter)["qa.answer"] == ["qa.extractive", "qa.generation", "qa.retrieval"]
    spans = {s.name: s for s in exporter.get_finished_spans()}
    generation = spans["qa.generation"]
    assert generation.status.status_code == StatusCode.ERROR
    assert generation.attributes["qa.fallback"] == "extractive"
    assert any(e.name == "exception" for e in generation.events)
    assert spans["qa.answer"].attributes["qa.question"] == PROPOSE_Q


def test_an_abstention_has_its_span(parts, traced, scripted) -> None:  # noqa: F811
    exporter, _ = traced
    answer = engine(parts, traced, scripted(TRUE)).answer(
        "What is the boiling point of tungsten on Mars?"
    )
    assert answer.status == "insufficient_evidence"
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["qa.abstention"].attributes["qa.reason"] == answer.reason
