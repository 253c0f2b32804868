"""A small OpenAI-compatible chat-completions server for tests, scripted and misbehaving on demand.

Each request takes the next scripted behaviour (or the default): a JSON answer, an HTTP error
status, a delay longer than the client's timeout, malformed content, a refusal, or a 400 for
servers that do not support JSON-schema response formats. Requests are recorded for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Behaviour:
    """What the server does for one request."""

    kind: str  # "answer" | "status" | "sleep" | "content" | "refusal" | "no_schema"
    answer: dict[str, Any] | None = None
    status: int = 200
    seconds: float = 0.0
    content: str = ""


def answer(label: str, confidence: float = 0.9, **fields: Any) -> Behaviour:
    """A well-formed classification."""
    base = {
        "order_id": None,
        "tracking_number": None,
        "new_address": None,
        "requested_date": None,
        "requested_slot": None,
        "items": [],
        "reason": None,
    }
    base.update(fields)
    return Behaviour(
        "answer",
        answer={
            "label": label,
            "confidence": confidence,
            "language": "en",
            "rationale": "scripted",
            "fields": base,
        },
    )


@dataclass
class LLMServer:
    """State shared with the handler: the script and what was received."""

    script: deque[Behaviour] = field(default_factory=deque)
    default: Behaviour = field(default_factory=lambda: answer("other", 0.5))
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def then(self, *behaviours: Behaviour) -> LLMServer:
        """Queue behaviours for the next requests."""
        self.script.extend(behaviours)
        return self


def _completion(content: str | None, refusal: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content, "refusal": refusal},
            }
        ],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100},
    }


def _handler(state: LLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            request = json.loads(self.rfile.read(length) or b"{}")
            state.requests.append(request)
            behaviour = state.script.popleft() if state.script else state.default
            response_format = (request.get("response_format") or {}).get("type")
            if behaviour.kind == "no_schema":
                if response_format in ("json_schema", "json_object"):
                    self._send(
                        400,
                        {
                            "error": {
                                "message": f"response_format {response_format} is not supported",
                                "type": "invalid_request_error",
                            }
                        },
                    )
                    return
                behaviour = Behaviour("content", content=behaviour.content)
            if behaviour.kind == "status":
                self._send(
                    behaviour.status,
                    {"error": {"message": f"scripted {behaviour.status}", "type": "server_error"}},
                )
            elif behaviour.kind == "sleep":
                time.sleep(behaviour.seconds)
                try:
                    self._send(200, _completion(json.dumps(answer("other").answer)))
                except (BrokenPipeError, ConnectionResetError):
                    pass
            elif behaviour.kind == "refusal":
                self._send(
                    200, _completion(None, refusal=behaviour.content or "I can't help with that.")
                )
            elif behaviour.kind == "content":
                self._send(200, _completion(behaviour.content))
            else:
                self._send(200, _completion(json.dumps(behaviour.answer)))

    return Handler


@contextmanager
def llm_server() -> Iterator[LLMServer]:
    """Start the server on a free loopback port; ``state.url`` is the base URL (…/v1)."""
    state = LLMServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
