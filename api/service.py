"""What the routes reach: the engine run off the event loop, behind bounded queues.

Each answering mode has a ``Gate``: at most ``concurrency`` answers run at once and at most
``queue`` more wait; one more gets a 429 at once instead of stalling the server. The local model
answers one request at a time (its llama.cpp context is not shared), so its gate has
concurrency 1. The engine's stream (a plain iterator) is advanced in worker threads, one step at
a time, and closed when the client goes away.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio import CapacityLimiter

from api.errors import ApiError
from api.metrics import Metrics
from api.slack.bot import SlackBot
from index.model import Filters
from qa.answer import Answer, Event, Final, Mode, Turn
from qa.engine import Engine
from qa.settings import ApiSettings
from qa.wiring import Components

log = logging.getLogger(__name__)
_END = object()


class Gate:
    """A bounded queue in front of a mode: ``concurrency`` running, ``queue`` waiting."""

    def __init__(self, name: str, concurrency: int, queue: int):
        self.name = name
        self.capacity = concurrency + queue
        self.admitted = 0
        self._running = asyncio.Semaphore(concurrency)

    def admit(self) -> None:
        """Take a place in the queue or raise 429 (call before a response starts)."""
        if self.admitted >= self.capacity:
            raise ApiError(
                429,
                "busy",
                f"too many {self.name} answers in progress ({self.capacity}); retry shortly",
                headers={"Retry-After": "2"},
            )
        self.admitted += 1

    def leave(self) -> None:
        self.admitted -= 1

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self._running:
            yield


@dataclass
class AskRequest:
    question: str
    history: tuple[Turn, ...] = ()
    filters: Filters | None = None
    mode: Mode | None = None
    as_of: dt.date | None = None
    k: int | None = None


@dataclass
class Service:
    """The engine and its parts for one app; built in the app's lifespan."""

    components: Components
    engine: Engine
    limits: ApiSettings
    api_keys: tuple[str, ...]
    metrics: Metrics = field(default_factory=Metrics)
    gates: dict[str, Gate] = field(default_factory=dict)
    ingest_lock: threading.Lock = field(default_factory=threading.Lock)
    limiter: CapacityLimiter | None = None
    slack: SlackBot | None = None

    def __post_init__(self) -> None:
        n, q = self.limits.answer_workers, self.limits.queue_size
        self.gates = {
            "local": Gate("local-model", 1, q),
            "openai": Gate("model-server", n, q),
            "extractive": Gate("extractive", n, max(q, 256)),
        }
        self.limiter = CapacityLimiter(n + 2)
        self.metrics.track_store(
            self.components.store.count_articles, self.components.store.count_chunks
        )

    def mode_of(self, mode: Mode | None) -> Mode:
        return mode or self.engine.default_mode

    def admit(self, mode: Mode | None) -> Gate:
        gate = self.gates[self.mode_of(mode)]
        try:
            gate.admit()
        except ApiError:
            self.metrics.rejected.labels(self.mode_of(mode)).inc()
            raise
        return gate

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run blocking work (retrieval, ingestion) in a worker thread."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    async def events(self, req: AskRequest, gate: Gate) -> AsyncIterator[Event]:
        """The engine's events for one question; ``gate`` was admitted by the caller and is
        left here, whatever happens."""
        try:
            async with gate.running():
                it: Iterator[Event] = self.engine.stream(
                    req.question, req.history, req.filters, req.mode, req.as_of, req.k
                )
                try:
                    while True:
                        event = await self.run(next, it, _END)
                        if event is _END:
                            return
                        if isinstance(event, Final):
                            self.metrics.observe_answer(event.answer)
                        yield event
                finally:
                    close = getattr(it, "close", None)  # the engine's stream is a generator
                    if close is not None:
                        await self.run(close)
        finally:
            gate.leave()

    async def answer(self, req: AskRequest) -> Answer:
        gate = self.admit(req.mode)
        async for event in self.events(req, gate):
            if isinstance(event, Final):
                return event.answer
        raise RuntimeError("the engine ended without an answer")  # pragma: no cover

    async def follow_store(self, every_s: float) -> None:
        """Keep the keyword index in step with Chroma when other processes write to it."""
        ingester = self.components.ingester
        n = 0

        def sync(full: bool) -> bool:
            with self.ingest_lock:
                return ingester.sync_keyword(full)

        while True:
            await asyncio.sleep(every_s)
            n += 1
            try:
                await self.run(sync, n % 6 == 0)
            except Exception as exc:  # the store may be down: readiness says so
                log.warning("keyword refresh skipped: %s", exc)

    # --- readiness ---------------------------------------------------------------------------

    def checks(self) -> dict[str, str]:
        """One line per part: 'ok ...' or why it is not ready (blocking: call via ``run``)."""
        out: dict[str, str] = {}
        comps = self.components
        try:
            comps.store.heartbeat()
            out["store"] = f"ok ({comps.store.location})"
        except Exception as exc:
            out["store"] = f"unavailable: {exc}"
        try:
            comps.embedder.embed_query("ready")
            variant = getattr(comps.embedder, "variant", "")
            out["embedder"] = f"ok ({comps.embedder.name}{', ' + variant if variant else ''})"
        except Exception as exc:
            out["embedder"] = f"unavailable: {exc}"
        mode = self.engine.default_mode
        problem = self.engine.check_generator(mode)
        out["generator"] = f"ok ({mode})" if problem is None else f"unavailable: {problem}"
        return out

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for."""
        try:
            _ = self.components.retriever  # repairs the keyword index if it disagrees
            self.components.embedder.embed_query("warm up")
            self.engine.check_generator()
        except Exception as exc:  # readiness reports it; the service still starts
            log.warning("warm-up incomplete: %s", exc)
