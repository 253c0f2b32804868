"""``BodyLimit``: request bodies over a size are refused before they are read, not after.

Starlette reads a whole body into memory before a route can look at it, so an unsigned 50 MB
POST to a webhook costs gigabytes before its signature is even checked. This ASGI middleware
refuses a declared ``Content-Length`` over the limit at once, and counts a chunked (or
undeclared) body as it arrives, stopping at the limit: the app never holds more than that.
"""

from __future__ import annotations

import json
import sys

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """A request body over the limit: 413, whoever reads the body.

    An ``HTTPException``, so a route or FastAPI's own body parsing that meets it answers 413
    (FastAPI would turn any other exception while parsing into 400).
    """

    def __init__(self, max_bytes: int) -> None:
        # The client may still be sending: close the connection rather than read the rest.
        super().__init__(413, f"request body over {max_bytes} bytes", {"Connection": "close"})


class BodyLimit:
    """ASGI middleware that answers 413 to a request body over ``max_bytes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        counted = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal counted
            message = await receive()
            if message["type"] == "http.request":
                counted += len(message.get("body", b""))
                if counted > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if started:  # too late for a status: the server drops the connection
                raise
            await _too_large(send, self.max_bytes)


def _declared_length(scope: Scope) -> int:
    """The Content-Length the client declared; 0 for none (a chunked body is counted instead).

    The server has already refused a malformed one.
    """
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit():
            # More digits than any int64 holds: over every limit (and int() refuses 4,300+).
            return int(value) if len(value) < 19 else sys.maxsize
    return 0


async def _too_large(send: Send, max_bytes: int) -> None:
    body = json.dumps({"detail": f"request body over {max_bytes} bytes"}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
