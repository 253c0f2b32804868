"""HTTP helpers for tests: real servers on loopback, clients that cannot leave the machine."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class LoopbackOnly(httpx.HTTPTransport):
    """Refuses any host but loopback, so a forgotten override fails instead of calling out."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host not in LOOPBACK:
            raise httpx.ConnectError(f"tests may only call loopback, not {request.url.host}")
        return super().handle_request(request)


def loopback_client(base_url: str, **kwargs: Any) -> httpx.Client:
    """An httpx client bound to loopback."""
    return httpx.Client(base_url=base_url, transport=LoopbackOnly(), timeout=10, **kwargs)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
