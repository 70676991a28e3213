"""API keys and request size limits."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, error_body

_bearer = HTTPBearer(auto_error=False, description="QA_API_KEYS, when set")


def key_matches(given: str, keys: tuple[str, ...]) -> bool:
    """Constant-time comparison against every configured key (no early exit)."""
    found = False
    for key in keys:
        found |= hmac.compare_digest(given.encode(), key.encode())
    return found


async def require_key(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 without a bearer key, 403 with a wrong one; open when no keys are configured."""
    keys: tuple[str, ...] = request.app.state.api_keys
    if not keys:
        return
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise ApiError(
            401,
            "unauthorized",
            "an API key is required: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not key_matches(creds.credentials, keys):
        raise ApiError(403, "forbidden", "the API key is not valid")


class BodyLimit:
    """Refuse bodies over the limit with 413, by Content-Length or as they stream in.

    Uploads (multipart) to the documents route get the larger upload limit.
    """

    def __init__(self, app: ASGIApp, max_body: int, max_upload: int):
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").decode("latin-1").lower()
        upload = ctype.startswith("multipart/form-data") or scope["path"].startswith(
            "/v1/documents"
        )
        limit = self.max_upload if upload else self.max_body
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                await _reject(send, 400, "bad_request", "Content-Length is not a number")
                return
            if too_big:
                await _reject(
                    send, 413, "too_large", f"the request body is over the limit of {limit} bytes"
                )
                return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge as exc:
            if not started:
                await _reject(
                    send,
                    413,
                    "too_large",
                    f"the request body is over the limit of {exc.limit} bytes",
                )


class _TooLarge(HTTPException):
    """Raised from ``receive``: FastAPI passes HTTPExceptions through its body parsing."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is over the limit of {limit} bytes")
        self.limit = limit


async def _reject(send: Send, status: int, code: str, message: str) -> None:
    import json

    body = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
