"""Operations: liveness, readiness with reasons, Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import AnswersDep, MetricsDep
from api.schemas import Ready

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Alive (the process answers)")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Ready: store, embedder, verifier and generator usable (503 with the reasons)",
    responses={503: {"model": Ready, "description": "not ready; checks say why"}},
)
async def readyz(request: Request, answers: AnswersDep) -> Any:
    checks: dict[str, str] = await answers.run(request.app.state.readiness)
    ready = all(v.startswith("ok") for v in checks.values())
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(metrics: MetricsDep, answers: AnswersDep) -> Response:
    data = await answers.run(metrics.render)
    return Response(data, media_type=CONTENT_TYPE_LATEST)
