"""A loopback stand-in for Twilio and SendGrid that misbehaves on demand.

Prism answers by the contract; it cannot be slow, drop a connection, or run out of capacity. This
server can: each request takes the next scripted behaviour (or ``ok``):
- ``ok``: accept (Twilio 201 with a Message SID, SendGrid 202 with X-Message-Id);
- ``status``: answer an error status (500, 503, 429 with Retry-After...) and accept nothing;
- ``gateway``: accept, then answer an error status (a 502 or 504 from a gateway whose backend
  did take the message);
- ``slow``: accept, then answer after ``seconds`` (past the client's timeout);
- ``drop``: accept, then close the connection without answering.
``accepted`` lists every message the "provider" took, so a test can prove none was doubled.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Behaviour:
    """What the server does with one request."""

    kind: str  # ok | status | gateway | slow | drop
    status: int = 200
    seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


OK = Behaviour("ok")


def status(code: int, **headers: str) -> Behaviour:
    """Answer ``code`` and accept nothing."""
    return Behaviour("status", status=code, headers=headers)


def gateway(code: int) -> Behaviour:
    """Accept, then answer ``code``."""
    return Behaviour("gateway", status=code)


def slow(seconds: float) -> Behaviour:
    """Accept, then answer too late."""
    return Behaviour("slow", seconds=seconds)


DROP = Behaviour("drop")


@dataclass
class FlakyProvider:
    """Script and record of the server."""

    url: str = ""
    script: deque[Behaviour] = field(default_factory=deque)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def then(self, *behaviours: Behaviour) -> FlakyProvider:
        """Queue behaviours for the next requests."""
        self.script.extend(behaviours)
        return self

    def accepted_for(self, key: str) -> list[dict[str, Any]]:
        """Accepted messages whose body contains ``key``."""
        return [m for m in self.accepted if key in json.dumps(m)]


def _handler(state: FlakyProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests += 1
                behaviour = state.script.popleft() if state.script else OK
            if behaviour.kind == "status":
                self._answer(
                    behaviour.status, {"message": f"scripted {behaviour.status}"}, behaviour.headers
                )
                return
            message = _parse(self.path, raw, self.headers.get("Content-Type", ""))
            message["sid"], message["at"] = "SM" + uuid.uuid4().hex, time.time()
            with state.lock:
                state.accepted.append(message)
            if behaviour.kind == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if behaviour.kind == "gateway":
                self._answer(behaviour.status, {"message": f"gateway {behaviour.status}"})
                return
            if behaviour.kind == "slow":
                time.sleep(behaviour.seconds)
            try:
                self._accept(message["sid"])
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_GET(self) -> None:
            """Twilio's message list, newest first, filtered by To and From: what was taken."""
            query = parse_qs(urlsplit(self.path).query)
            to, sender = query.get("To", [None])[0], query.get("From", [None])[0]
            with state.lock:
                taken = [m for m in reversed(state.accepted) if "/Messages.json" in m["path"]]
            listed = [
                {
                    "sid": m["sid"],
                    "to": m["body"].get("To"),
                    "from": m["body"].get("From"),
                    "body": m["body"].get("Body"),
                    "status": "sent",
                    "date_created": formatdate(m["at"], usegmt=True),
                }
                for m in taken
                if to in (None, m["body"].get("To")) and sender in (None, m["body"].get("From"))
            ]
            self._answer(200, {"messages": listed, "next_page_uri": None, "page": 0})

        def _accept(self, sid: str) -> None:
            if "/Messages.json" in self.path:
                self._answer(201, {"sid": sid, "status": "queued", "account_sid": "AC" + "0" * 32})
            else:
                self._answer(202, None, {"X-Message-Id": uuid.uuid4().hex[:22]})

        def _answer(
            self, code: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(code)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _parse(path: str, raw: bytes, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        return {"path": path, "body": json.loads(raw or b"{}")}
    return {"path": path, "body": {k: v[0] for k, v in parse_qs(raw.decode()).items()}}


@contextmanager
def flaky_provider() -> Iterator[FlakyProvider]:
    """Start the server on a free loopback port."""
    state = FlakyProvider()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
