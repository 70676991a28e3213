"""Prometheus metrics, on a registry of the app's own (several apps may live in one process)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from qa.answer import Answer

LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """Requests by route and status, retrieval and generation latency, answers, stored sizes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "qa_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "qa_http_request_seconds", "HTTP request time", ["route"], buckets=LATENCY, registry=r
        )
        self.retrieval = Histogram(
            "qa_retrieval_seconds", "passage retrieval time per answer", buckets=LATENCY, registry=r
        )
        self.generation = Histogram(
            "qa_generation_seconds", "model generation time per answer", buckets=LATENCY, registry=r
        )
        self.answers = Counter("qa_answers", "answers given", ["status", "mode"], registry=r)
        self.rejected = Counter(
            "qa_answers_rejected",
            "answers refused because the queue was full",
            ["mode"],
            registry=r,
        )
        self.documents = Gauge("qa_documents", "articles stored", registry=r)
        self.chunks = Gauge("qa_chunks", "chunks stored", registry=r)

    def track_store(self, documents: Callable[[], float], chunks: Callable[[], float]) -> None:
        """Read the stored counts at every scrape (a failing store reads as -1)."""

        def safe(fn: Callable[[], float]) -> Callable[[], float]:
            def read() -> float:
                try:
                    return float(fn())
                except Exception:
                    return -1.0

            return read

        self.documents.set_function(safe(documents))
        self.chunks.set_function(safe(chunks))

    def track_models(self, stats: Callable[[], Sequence[Any]]) -> None:
        """Crashes, restarts and failed starts of the supervised local models, read at every
        scrape (``stats`` returns their ``SupervisorStats``)."""
        self.registry.register(_ModelCollector(stats))

    def track_feeds(self, feeds: Callable[[], Sequence[dict[str, Any]]]) -> None:
        """Feed items fetched, skipped and failed, and the median lag from publication to
        ingestion, read at every scrape."""
        self.registry.register(_FeedCollector(feeds))

    def observe_answer(self, answer: Answer) -> None:
        self.answers.labels(answer.status, answer.mode).inc()
        timings = answer.trace.timings_ms if answer.trace else {}
        if "retrieve_ms" in timings:
            self.retrieval.observe(timings["retrieve_ms"] / 1000)
        if "generate_ms" in timings:
            self.generation.observe(timings["generate_ms"] / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ModelCollector(Collector):
    FIELDS = (
        ("crashes", "local model processes that died or hung while running"),
        ("restarts", "local model processes started again after a crash"),
        ("failed_starts", "local model processes that died or failed before they were ready"),
    )

    def __init__(self, stats: Callable[[], Sequence[Any]]):
        self.stats = stats

    def collect(self) -> Iterator[CounterMetricFamily]:
        found = list(self.stats())
        for name, doc in self.FIELDS:
            family = CounterMetricFamily(f"qa_model_{name}", doc)
            family.add_metric([], float(sum(getattr(s, name) for s in found)))
            yield family


class _FeedCollector(Collector):
    def __init__(self, feeds: Callable[[], Sequence[dict[str, Any]]]):
        self.feeds = feeds

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        try:
            rows = list(self.feeds())
        except Exception:
            rows = []
        items = CounterMetricFamily("qa_feed_items", "feed items by outcome", labels=["outcome"])
        for outcome in ("fetched", "skipped", "failed"):
            items.add_metric([outcome], float(sum(r[outcome] for r in rows)))
        yield items
        lag = GaugeMetricFamily(
            "qa_feed_lag_seconds", "median time from publication to ingestion", labels=["feed"]
        )
        for r in rows:
            if r.get("lag_s_median") is not None:
                lag.add_metric([r["id"]], float(r["lag_s_median"]))
        yield lag
        yield GaugeMetricFamily("qa_feeds", "feeds followed", value=float(len(rows)))
