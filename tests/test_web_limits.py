"""Request body limits, over raw sockets on loopback: a big body is refused before it is read."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine
from twilio.request_validator import RequestValidator

from tests.http import loopback_client, serve_app
from tidings.config import Settings
from tidings.web.app import create_app
from tidings.web.limits import BodyLimit

LIMIT = 64 * 1024
TOKEN = "twilio-test-token"
STREAM_BYTES = 32 * 1024 * 1024  # what a hostile client would send; the app must stop far short
PIECE = b"a" * (64 * 1024)


@pytest.fixture
def app_url(engine: Engine, tmp_path: Path) -> Iterator[str]:
    """The web app with a 64 KiB body limit and Twilio webhooks configured."""
    settings = Settings(
        twilio={"account_sid": "AC" + "0" * 32, "auth_token": TOKEN},
        web={"max_body_bytes": LIMIT},
        outbox_dir=tmp_path,
    )
    with serve_app(create_app(settings, engine=engine)) as url:
        yield url


def connect(url: str) -> socket.socket:
    """A raw TCP connection to the server behind ``url``."""
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def request_head(path: str, *headers: str) -> bytes:
    """A POST's request line and headers."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


def read_status(sock: socket.socket) -> str:
    """The status line of the response on ``sock``."""
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def stream_chunked(sock: socket.socket, total: int) -> int:
    """Send up to ``total`` bytes of chunked body until the server answers; returns bytes sent."""
    chunk = f"{len(PIECE):x}\r\n".encode() + PIECE + b"\r\n"
    sent = 0
    while sent < total:
        if select.select([sock], [], [], 0)[0]:
            break  # the server has answered (or closed): stop sending
        try:
            sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(PIECE)
    return sent


class TestBodyLimit:
    def test_declared_length_over_the_limit_is_refused_before_the_body(self, app_url: str) -> None:
        """A Content-Length of 50 MB gets 413 at once: the server does not wait for the body."""
        started = time.monotonic()
        with connect(app_url) as sock:
            sock.sendall(
                request_head(
                    "/webhooks/twilio/status",
                    "Content-Type: application/x-www-form-urlencoded",
                    f"Content-Length: {50 * 1024 * 1024}",
                )
            )
            status = read_status(sock)
        assert status.startswith("HTTP/1.1 413")
        assert time.monotonic() - started < 5

    def test_chunked_body_is_cut_off_at_the_limit(self, app_url: str) -> None:
        """A chunked POST of 32 MB with a forged signature (so the route reads the body to check
        it) is answered 413 long before the client is done."""
        with connect(app_url) as sock:
            sock.sendall(
                request_head(
                    "/webhooks/twilio/status",
                    "Content-Type: application/x-www-form-urlencoded",
                    "Transfer-Encoding: chunked",
                    "X-Twilio-Signature: forged",
                )
            )
            sent = stream_chunked(sock, STREAM_BYTES)
            status = read_status(sock)
        assert status.startswith("HTTP/1.1 413")
        assert sent < STREAM_BYTES // 2

    def test_a_body_within_the_limit_still_works(self, app_url: str) -> None:
        """A signed callback just under the limit is processed; just over it gets 413."""
        path = "/webhooks/twilio/status"
        for size, expected in ((LIMIT - 1024, 200), (LIMIT + 1024, 413)):
            params = {"MessageSid": "SM1", "MessageStatus": "delivered", "Pad": "p" * size}
            signature = RequestValidator(TOKEN).compute_signature(app_url + path, params)
            with loopback_client(app_url) as client:
                answer = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
            assert answer.status_code == expected


class TestBodyLimitMiddleware:
    def test_the_app_never_sees_more_than_the_limit(self) -> None:
        """Behind the middleware an app that reads everything gets at most the limit, then 413."""
        seen: list[int] = []

        async def greedy(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            total, more = 0, True
            try:
                while more:
                    message = await receive()
                    total += len(message.get("body", b""))
                    more = message.get("more_body", False)
            finally:
                seen.append(total)
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"read it all"})

        with serve_app(BodyLimit(greedy, max_bytes=LIMIT)) as url, connect(url) as sock:
            sock.sendall(request_head("/", "Transfer-Encoding: chunked"))
            stream_chunked(sock, STREAM_BYTES)
            status = read_status(sock)
        assert status.startswith("HTTP/1.1 413")
        assert seen and seen[0] <= LIMIT
