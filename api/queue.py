"""The answer queue: every caller's way to the engine (HTTP routes, the OpenAI endpoint, Slack).

Each answering mode has a ``Gate``: at most ``concurrency`` answers run at once and at most
``queue`` more wait; one more is refused at once (``Busy``, a 429 over HTTP) instead of
stalling the server. The local model answers one request at a time, so its gate has
concurrency 1. The engine's stream (a plain iterator) is advanced in worker threads, one step
at a time, and closed when the caller goes away. Callers without an event loop of their own
(the Slack bot's threads) use ``answer_sync``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from anyio import CapacityLimiter

from index.model import Filters
from qa.answer import Answer, Event, Final, Mode, Turn
from qa.engine import Engine

T = TypeVar("T")
_END = object()


class Busy(Exception):
    """The mode's queue is full: retry shortly."""

    def __init__(self, name: str, capacity: int):
        super().__init__(f"too many {name} answers in progress ({capacity}); retry shortly")


@dataclass(frozen=True)
class AskRequest:
    question: str
    history: tuple[Turn, ...] = ()
    filters: Filters | None = None
    mode: Mode | None = None
    as_of: dt.date | None = None
    k: int | None = None


class Gate:
    """A bounded queue in front of a mode: ``concurrency`` running, ``queue`` waiting."""

    def __init__(self, name: str, concurrency: int, queue: int):
        self.name = name
        self.capacity = concurrency + queue
        self.admitted = 0
        self._concurrency = concurrency
        self._running: asyncio.Semaphore | None = None
        self._lock = threading.Lock()

    def admit(self) -> None:
        """Take a place in the queue or raise ``Busy`` (call before a response starts)."""
        with self._lock:
            if self.admitted >= self.capacity:
                raise Busy(self.name, self.capacity)
            self.admitted += 1

    def leave(self) -> None:
        with self._lock:
            self.admitted -= 1

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        if self._running is None:  # made on the loop that uses it
            self._running = asyncio.Semaphore(self._concurrency)
        async with self._running:
            yield


class AnswerQueue:
    """The engine behind per-mode gates; answers computed in worker threads."""

    def __init__(
        self,
        engine: Engine,
        workers: int,
        queue_size: int,
        on_answer: Callable[[Answer], None] = lambda a: None,
        on_refused: Callable[[Mode], None] = lambda m: None,
    ):
        self.engine = engine
        self.gates = {
            "local": Gate("local-model", 1, queue_size),
            "openai": Gate("model-server", workers, queue_size),
            "extractive": Gate("extractive", workers, max(queue_size, 256)),
        }
        self.limiter = CapacityLimiter(workers + 2)
        self.on_answer = on_answer
        self.on_refused = on_refused
        self._loop: asyncio.AbstractEventLoop | None = None
        self._own_loop: threading.Thread | None = None

    def mode_of(self, mode: Mode | None) -> Mode:
        return mode or self.engine.default_mode

    def admit(self, mode: Mode | None) -> Gate:
        gate = self.gates[self.mode_of(mode)]
        try:
            gate.admit()
        except Busy:
            self.on_refused(self.mode_of(mode))
            raise
        return gate

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work in a worker thread."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    async def events(self, req: AskRequest, gate: Gate) -> AsyncIterator[Event]:
        """The engine's events for one question; ``gate`` was admitted by the caller and is
        left here, whatever happens."""
        try:
            async with gate.running():
                it: Iterator[Event] = self.engine.stream(
                    req.question,
                    history=req.history,
                    filters=req.filters,
                    mode=req.mode,
                    as_of=req.as_of,
                    k=req.k,
                )
                try:
                    while True:
                        event = await self.run(next, it, _END)
                        if event is _END:
                            return
                        if isinstance(event, Final):
                            self.on_answer(event.answer)
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

    # --- callers in threads of their own --------------------------------------------------

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Use this (the server's) event loop for ``answer_sync``."""
        self._loop = loop

    def answer_sync(self, req: AskRequest) -> Answer:
        """``answer`` from a thread that is not the event loop's (Slack's listeners): the same
        gates, the same ``Busy`` when full."""
        return self._call(self.answer(req))

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
            loop = self._loop
            self._own_loop = threading.Thread(target=loop.run_forever, daemon=True)
            self._own_loop.start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()
