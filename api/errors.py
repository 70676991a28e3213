"""One JSON error shape for every failure: ``{"error": {"code": ..., "message": ...}}``.

The engine's exception tree (``qa.errors``) maps to status codes here, and only here: one
handler per branch (input 4xx, backend 503, timeout 504), plus the API's own errors and the
answer queue's ``Busy`` (429). A client never sees a stack trace: unexpected errors are logged with
an id and answered with a 500 that names only that id.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.queue import Busy
from qa.errors import (
    BackendUnavailable,
    GeneratorTimeout,
    InputError,
    NotFound,
    QAError,
    UnsupportedFile,
)

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the API itself raises (auth, limits, queue): status, stable code, message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        **more: Any,
    ):
        """``more``: further fields of the error object (OpenAI's ``type`` and ``param``)."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.more = more


def error_body(code: str, message: str, **more: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **more}}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, **more: Any
) -> JSONResponse:
    return JSONResponse(error_body(code, message, **more), status_code=status, headers=headers)


def status_of(exc: Exception) -> tuple[int, str, str]:
    """(HTTP status, code, message) for any exception."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message
    if isinstance(exc, Busy):
        return 429, "busy", str(exc)
    if isinstance(exc, NotFound):
        return 404, exc.code, str(exc)
    if isinstance(exc, UnsupportedFile):
        return 415, exc.code, str(exc)
    if isinstance(exc, InputError):
        return 400, exc.code, str(exc)
    if isinstance(exc, GeneratorTimeout):
        return 504, exc.code, str(exc)
    if isinstance(exc, BackendUnavailable):
        return 503, exc.code, str(exc)
    if isinstance(exc, QAError):
        return 500, exc.code, str(exc)
    ref = uuid.uuid4().hex[:12]
    log.error("unexpected error %s", ref, exc_info=exc)
    return 500, "internal", f"internal error (logged as {ref})"


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def validation_message(exc: RequestValidationError) -> tuple[str, str]:
    """A one-line message naming the first bad field, and that field."""
    errors = exc.errors()
    if not errors:
        return "invalid request", ""
    first = errors[0]
    if first.get("type") == "json_invalid":
        ctx = first.get("ctx") or {}
        return f"body: not valid JSON ({ctx.get('error', 'decode error')})", "body"
    field = _field(tuple(first.get("loc", ())))
    msg = str(first.get("msg", "invalid value"))
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return (f"{field}: {msg}{more}" if field else f"{msg}{more}"), field


def install_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the one error shape."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, field = validation_message(exc)
        return error_response(422, "validation_error", message, field=field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        code = codes.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such route: {request.method} {request.url.path}"
        return error_response(exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, headers=exc.headers, **exc.more)

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy) -> JSONResponse:
        return error_response(429, "busy", str(exc), headers={"Retry-After": "2"})

    async def _branch(request: Request, exc: Exception) -> JSONResponse:
        status, code, message = status_of(exc)
        return error_response(status, code, message)

    for branch in (InputError, BackendUnavailable, GeneratorTimeout, QAError):
        app.add_exception_handler(branch, _branch)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        status, code, message = status_of(exc)
        return error_response(status, code, message)
