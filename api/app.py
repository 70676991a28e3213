"""``create_app(settings=None, *, engine=None, components=None)``: the FastAPI application.

The engine and its parts are built in the lifespan (never at import) and kept on
``app.state``, where the routes' dependencies (``api.deps``) reach them: the engine, the
archive, the answer queue, the limits. Pass ``components`` or ``engine`` to serve ones built
elsewhere (tests, or ``qa run`` after ingesting the sample).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import Limits
from api.errors import install_handlers
from api.guards import BodyLimit, require_key
from api.mcp.http import McpEndpoint, mcp_asgi
from api.mcp.server import build_mcp
from api.metrics import Metrics
from api.queue import AnswerQueue
from api.routes import answers, documents, feeds, openai_compat, ops, slack, web
from api.slack.setup import slack_bot
from qa.archive import Archive
from qa.engine import Engine
from qa.feeds import Feeds
from qa.settings import Settings
from qa.wiring import Components

log = logging.getLogger(__name__)

DESCRIPTION = """Ask questions of a news archive and get answers you can check.

Every sentence of an answer carries a `[n]` marker; `citations[n-1]` holds the article, title,
date and the exact quote (`article.text[start:end]`) that supports it. When the sources do not
hold the answer the status says so (`insufficient_evidence`) instead of guessing.

Errors always have the shape `{"error": {"code": "...", "message": "..."}}`. When `QA_API_KEYS`
is set, every `/v1` route needs `Authorization: Bearer <key>`.
"""


def route_label(scope: Scope) -> str:
    """The route template of a handled request ("/v1/documents/{doc_id}"); unmatched paths
    share one label so that random URLs cannot grow the metrics without bound."""
    if "route" not in scope:
        return "unmatched"
    path = str(scope["path"])
    for name, value in (scope.get("path_params") or {}).items():
        path = path.replace(f"/{value}", f"/{{{name}}}")
    return path


class RequestMetrics:
    """Counts requests by route template and status, and times them."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        t0 = time.perf_counter()

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        finally:
            name = route_label(scope)
            self.metrics.requests.labels(scope["method"], name, str(status)).inc()
            self.metrics.latency.labels(name).observe(time.perf_counter() - t0)


def readiness(comps: Components, archive: Archive, engine: Engine) -> dict[str, str]:
    """One line per part: 'ok ...' or why it is not ready (blocking: run in a thread)."""
    out: dict[str, str] = {}
    try:
        archive.heartbeat()
        out["store"] = f"ok ({archive.location})"
    except Exception as exc:
        out["store"] = f"unavailable: {exc}"
    try:
        comps.embedder.embed_query("ready")
        variant = getattr(comps.embedder, "variant", "")
        out["embedder"] = f"ok ({comps.embedder.name}{', ' + variant if variant else ''})"
    except Exception as exc:
        out["embedder"] = f"unavailable: {exc}"
    mode = engine.default_mode
    problem = engine.check_generator(mode)
    out["generator"] = f"ok ({mode})" if problem is None else f"unavailable: {problem}"
    return out


def warm_up(comps: Components, engine: Engine) -> None:
    """Load what the first question would otherwise wait for."""
    try:
        comps.embedder.embed_query("warm up")
        engine.check_generator()
    except Exception as exc:  # readiness reports it; the service still starts
        log.warning("warm-up incomplete: %s", exc)


async def _poll_feeds(answers: AnswerQueue, feeds: Feeds, every_s: float) -> None:
    """Poll the feeds that are due (off while no feed is followed)."""
    while True:
        try:
            if await answers.run(feeds.all):
                for r in await answers.run(feeds.poll, None):
                    if r.error:
                        log.warning("feed %s: %s", r.feed_id, r.error)
                    elif r.ingested:
                        log.info("feed %s: %d article(s) ingested", r.feed_id, len(r.ingested))
        except Exception as exc:  # a bad poll never stops the poller
            log.warning("feed poll failed: %s", exc)
        await asyncio.sleep(every_s)


async def _follow_store(answers: AnswerQueue, archive: Archive, every_s: float) -> None:
    """Keep the keyword index in step with Chroma when other processes write to it."""
    n = 0
    while True:
        await asyncio.sleep(every_s)
        n += 1
        try:
            await answers.run(archive.follow, n % 6 == 0)
        except Exception as exc:  # the store may be down: readiness says so
            log.warning("keyword refresh skipped: %s", exc)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    components: Components | None = None,
) -> FastAPI:
    """The app. ``settings`` default to the environment (``QA_...``)."""
    settings = settings or (components.settings if components else Settings())
    metrics = Metrics()
    api = settings.api

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            comps = components or Components(settings)
            await asyncio.to_thread(comps.repair)  # a half-written earlier run is rolled back
            eng = engine or comps.engine
            archive = comps.archive
            queue = AnswerQueue(
                eng,
                api.answer_workers,
                api.queue_size,
                on_answer=metrics.observe_answer,
                on_refused=lambda mode: metrics.rejected.labels(mode).inc(),
            )
            queue.bind(asyncio.get_running_loop())
            metrics.track_store(archive.count, archive.count_chunks)
            metrics.track_models(lambda: [r.stats for r in comps.supervised()])
            state = app.state
            state.engine, state.archive, state.answers, state.metrics = eng, archive, queue, metrics
            state.feeds = comps.feeds
            metrics.track_feeds(comps.feeds.all)
            state.limits = Limits(
                api.max_question_chars, api.max_messages, api.max_k, api.max_upload_bytes
            )
            state.api_keys = tuple(k.get_secret_value() for k in settings.api_keys)
            state.readiness = lambda: readiness(comps, archive, eng)
            if api.warm_up:
                await queue.run(warm_up, comps, eng)
            state.slack = slack_bot(settings.slack, settings.data_dir, queue)
            if state.slack is not None:
                # events taken by a process that stopped before answering them
                asyncio.get_running_loop().run_in_executor(None, state.slack.resume)
            mcp_server = build_mcp(queue, archive)
            state.mcp_asgi = mcp_asgi(mcp_server, api.mcp_hosts)
            await stack.enter_async_context(mcp_server.session_manager.run())
            poller = asyncio.create_task(_poll_feeds(queue, comps.feeds, settings.feeds.check_s))
            refresher = None
            if settings.retrieval.keyword_refresh_s > 0:
                every = settings.retrieval.keyword_refresh_s
                refresher = asyncio.create_task(_follow_store(queue, archive, every))
            log.info(
                "serving %d article(s); API keys %s",
                await queue.run(archive.count),
                "required" if state.api_keys else "not required",
            )
            yield
            poller.cancel()
            if refresher is not None:
                refresher.cancel()
            if state.slack is not None:
                state.slack.memory.close()
            if components is None:
                comps.close()  # the local model's child process ends with the app that started it

    app = FastAPI(title="newsqa", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    install_handlers(app)
    secured: list[Any] = [Depends(require_key)]
    app.include_router(answers.router, prefix="/v1", dependencies=secured)
    app.include_router(openai_compat.router, prefix="/v1", dependencies=secured)
    app.include_router(feeds.router, prefix="/v1", dependencies=secured)
    app.include_router(documents.router, prefix="/v1", dependencies=secured)
    app.include_router(ops.router)
    app.include_router(slack.router)
    app.include_router(web.router)
    app.router.routes.append(Route("/mcp", McpEndpoint(), methods=["GET", "POST", "DELETE"]))
    app.add_middleware(BodyLimit, max_body=api.max_body_bytes, max_upload=api.max_upload_bytes)
    if api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=api.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app
