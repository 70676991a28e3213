"""Operations: liveness, readiness with reasons, Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import ServiceDep
from api.schemas import Ready

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Alive (the process answers)")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Ready: store, embedder and generator usable (503 with the reasons when not)",
    responses={503: {"model": Ready, "description": "not ready; checks say why"}},
)
async def readyz(service: ServiceDep) -> Any:
    checks: dict[str, str] = await service.run(service.checks)
    ready = all(v.startswith("ok") for v in checks.values())
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(service: ServiceDep) -> Response:
    data = await service.run(service.metrics.render)
    return Response(data, media_type=CONTENT_TYPE_LATEST)
