"""Prism mock servers built from the providers' official OpenAPI specs (../shared/specs).

Prism validates each request against the contract: a request that breaks it gets a 4xx (the
reason is in the ``sl-violations`` header), so a test that sends one fails. Prism is installed by
``.ci/setup.d/20-prism.sh`` into ``.ci/node``. Without it the tests that need it skip with a loud
reason, except under CI (``CI=true``), where its absence fails them.

One server per spec per test process, on a free loopback port, started on first use and stopped
at exit.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.http import LOOPBACK, free_port
from tests.services import missing
from tidings.channels.twilio import RoutedTwilioHttpClient

ROOT = Path(__file__).resolve().parent.parent
PRISM = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "prism"
SPECS = Path(os.environ.get("TIDINGS_SPECS_DIR", ROOT.parent / "shared" / "specs"))
TWILIO_API = "twilio_api_v2010.json"
TWILIO_CONTENT = "twilio_content_v1.json"
SENDGRID_MAIL = "tsg_mail_v3.json"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"


@dataclass
class PrismServer:
    """A running Prism process."""

    spec: str
    url: str
    process: subprocess.Popen[bytes]


_servers: dict[str, PrismServer] = {}
_lock = threading.Lock()


def require_prism() -> Path:
    """The prism binary; skip (locally) or fail (in CI) when it is not installed."""
    specs_missing = not SPECS.is_dir()
    if PRISM.exists() and not specs_missing:
        return PRISM
    what = f"Prism is not installed at {PRISM}" if not PRISM.exists() else f"no specs in {SPECS}"
    message = f"{what}: run `bash .ci/setup.d/20-prism.sh` to install it"
    missing(f"provider contract tests: {message}")


def server(spec: str) -> PrismServer:
    """The Prism server for ``spec``, started if needed."""
    binary = require_prism()
    with _lock:
        if spec not in _servers:
            _servers[spec] = _start(binary, spec)
        return _servers[spec]


def _start(binary: Path, spec: str) -> PrismServer:
    port = free_port()
    env = {**os.environ, "SCARF_ANALYTICS": "false", "NO_COLOR": "1"}
    process = subprocess.Popen(
        # Log only problems: per-request logging costs Prism a third of its throughput.
        [str(binary), "mock", "-h", "127.0.0.1", "-p", str(port), "-v", "warn", str(SPECS / spec)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prism exited with {process.returncode} for {spec}")
        try:
            httpx.get(url + "/", timeout=0.5)
            return PrismServer(spec, url, process)
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"prism did not start for {spec} within 60 s")


@atexit.register
def stop_all() -> None:
    """Stop every server this process started."""
    for srv in _servers.values():
        srv.process.terminate()
    for srv in _servers.values():
        try:
            srv.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            srv.process.kill()
    _servers.clear()


class LoopbackTwilioHttpClient(RoutedTwilioHttpClient):
    """Routes Twilio hosts to loopback mocks, refuses anything else, and keeps what it sent."""

    def __init__(self, routes: dict[str, str], *, timeout: Any = (2.0, 5.0)) -> None:
        super().__init__(routes, timeout=timeout)
        self.sent: list[tuple[str, str, int]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        """Send to the mock; record (method, path, status)."""
        target = httpx.URL(self.route(url))
        if target.host not in LOOPBACK:
            raise RuntimeError(f"tests may only call loopback, not {target.host}")
        try:
            response = super().request(method, url, *args, **kwargs)
        except Exception:
            self.sent.append((method, target.path, 0))
            raise
        self.sent.append((method, target.path, response.status_code))
        return response

    def count(self, path_suffix: str, method: str = "POST") -> int:
        """Requests that reached a server for a path ending with ``path_suffix``."""
        return sum(1 for m, p, _ in self.sent if m == method and p.endswith(path_suffix))


def twilio_routes() -> dict[str, str]:
    """api.twilio.com and content.twilio.com to their Prism servers."""
    return {
        "api.twilio.com": server(TWILIO_API).url,
        "content.twilio.com": server(TWILIO_CONTENT).url,
    }
