"""``create_app(settings=None, *, engine=None)``: the FastAPI application.

The engine and its parts are built in the lifespan (never at import). Pass ``components`` or
``engine`` to serve ones built elsewhere (tests, or ``qa run`` after ingesting the sample).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import install_handlers
from api.guards import BodyLimit, require_key
from api.metrics import Metrics
from api.routes import answers, documents, openai_compat, ops, slack, web
from api.service import Service
from api.slack.bot import SlackBot
from api.slack.store import SlackMemory
from qa.engine import Engine
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


def slack_bot(
    settings: Settings, comps: Components, engine: Engine, *, socket_mode: bool = False
) -> SlackBot | None:
    """The Slack bot when its settings are complete (HTTP: bot token and signing secret;
    Socket Mode: bot token and app token); otherwise a log line says why it is off."""
    cfg = settings.slack
    needed = [("QA_SLACK__BOT_TOKEN", cfg.bot_token)]
    if socket_mode:
        needed.append(("QA_SLACK__APP_TOKEN", cfg.app_token))
    else:
        needed.append(("QA_SLACK__SIGNING_SECRET", cfg.signing_secret))
    missing = [name for name, value in needed if value is None]
    if missing or cfg.bot_token is None:
        log.info("Slack bot off: %s not set", " and ".join(missing))
        return None
    memory = SlackMemory(comps.data_dir / "slack.sqlite3", ttl_s=cfg.dedup_hours * 3600)
    if not socket_mode:
        log.info("Slack bot on: events at POST /slack/events (Web API %s)", cfg.api_url)
    # Socket Mode has no request signatures: the connection itself is authenticated
    secret = None if socket_mode or cfg.signing_secret is None else cfg.signing_secret
    return SlackBot(
        engine,
        memory,
        cfg.bot_token.get_secret_value(),
        secret.get_secret_value() if secret else None,
        cfg.api_url,
        follow_threads=cfg.follow_threads,
        ignore_bots=cfg.ignore_bots,
        mode=cfg.mode,
        history_turns=cfg.history_turns,
    )


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    components: Components | None = None,
) -> FastAPI:
    """The app. ``settings`` default to the environment (``QA_...``)."""
    settings = settings or (components.settings if components else Settings())
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        comps = components or Components(settings)
        service = Service(
            comps,
            engine or comps.engine,
            settings.api,
            tuple(k.get_secret_value() for k in settings.api_keys),
            metrics,
        )
        if settings.api.warm_up:
            await service.run(service.warm_up)
        service.slack = slack_bot(settings, comps, service.engine)
        if service.slack is not None:
            # events taken by a process that stopped before answering them
            asyncio.get_running_loop().run_in_executor(None, service.slack.resume)
        app.state.service = service
        refresher = None
        if settings.retrieval.keyword_refresh_s > 0:
            refresher = asyncio.create_task(
                service.follow_store(settings.retrieval.keyword_refresh_s)
            )
        log.info(
            "serving %d article(s); API keys %s",
            comps.store.count_articles(),
            "required" if service.api_keys else "not required",
        )
        yield
        if refresher is not None:
            refresher.cancel()
        if service.slack is not None:
            service.slack.memory.close()

    app = FastAPI(
        title="newsqa",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_handlers(app)
    secured: list[Any] = [Depends(require_key)]
    app.include_router(answers.router, prefix="/v1", dependencies=secured)
    app.include_router(openai_compat.router, prefix="/v1", dependencies=secured)
    app.include_router(documents.router, prefix="/v1", dependencies=secured)
    app.include_router(ops.router)
    app.include_router(slack.router)
    app.include_router(web.router)
    app.add_middleware(
        BodyLimit, max_body=settings.api.max_body_bytes, max_upload=settings.api.max_upload_bytes
    )
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app
