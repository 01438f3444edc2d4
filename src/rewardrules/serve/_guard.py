"""What keeps the playground from being an open door: hosts, token, origin, sizes, errors.

- Every request must name a local host (or the one ``--host`` gave) in its ``Host`` header,
  so a web page cannot reach the server through a DNS name rebound to 127.0.0.1.
- Every ``/api/`` request carries the page's per-session token; every POST also an
  ``Origin`` equal to the server's own.
- Bodies are read up to a limit, and refused beyond it with 413.
- Errors are JSON ``{"error": ...}`` in words: never a stack trace.
"""

from __future__ import annotations

import hmac
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_HEADER: Final = "x-rewardrules-token"  # noqa: S105 -- a header name, not a secret
LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


class RefusedError(Exception):
    """A request the playground will not serve: a status and a message for the page."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details

    def response(self) -> JSONResponse:
        """The refusal as ``{"error": message, ...details}``."""
        return JSONResponse({"error": self.message, **self.details}, status_code=self.status)


def host_name(host: str) -> str:
    """``127.0.0.1`` of ``127.0.0.1:8765``; ``[::1]`` of ``[::1]:8765``."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


class HostCheck:
    """Refuse (421) a request whose ``Host`` header is not one of the served names."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            host = headers.get(b"host", b"").decode("latin-1")
            if host_name(host).lower() not in self.hosts:
                refusal = RefusedError(421, "this server answers only to its own address")
                await refusal.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


def check_request(request: Request, token: str) -> None:
    """Refuse an API request without the session's token, or a POST from another origin."""
    given = request.headers.get(TOKEN_HEADER, "")
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise RefusedError(403, "this request lacks the page's session token: reload the page")
    if request.method == "POST":
        origin = request.headers.get("origin")
        expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin != expected:
            raise RefusedError(403, "this request comes from another site's page")


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused (413) past ``limit`` bytes, whatever it claims."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise RefusedError(413, f"the request is larger than the limit of {limit:,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RefusedError(413, f"the request is larger than the limit of {limit:,} bytes")
    return bytes(body)
