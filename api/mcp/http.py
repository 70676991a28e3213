"""``/mcp``: the MCP server's streamable HTTP transport inside the API app.

The endpoint is added when the app is made; the MCP server behind it is built in the app's
lifespan (it needs the answer queue and the archive). Requests need the same API key as
``/v1`` (401 without one, 403 with a wrong one) and pass the same body limits.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Receive, Scope, Send

from api.errors import error_body
from api.guards import key_matches


class McpEndpoint:
    """ASGI endpoint forwarding to the app's MCP transport, after the API key check."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        keys: tuple[str, ...] = state.api_keys
        if keys:
            headers = dict(scope.get("headers") or [])
            auth = headers.get(b"authorization", b"").decode("latin-1")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token:
                return await _reply(send, 401, "unauthorized", "an API key is required")
            if not key_matches(token.strip(), keys):
                return await _reply(send, 403, "forbidden", "the API key is not valid")
        inner: Any = getattr(state, "mcp_asgi", None)
        if inner is None:
            return await _reply(send, 503, "backend_unavailable", "the MCP server is starting")
        await inner(scope, receive, send)


async def _reply(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def mcp_asgi(server: Any, allowed_hosts: list[str]) -> Any:
    """The streamable HTTP handler of ``server`` (its session manager must be running)."""
    from mcp.server.transport_security import TransportSecuritySettings

    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=bool(allowed_hosts),
        allowed_hosts=allowed_hosts,
        allowed_origins=[f"http://{h}" for h in allowed_hosts],
    )
    app = server.streamable_http_app(streamable_http_path="/mcp", transport_security=security)
    route = next(r for r in app.routes if getattr(r, "path", "") == "/mcp")
    return route.app
