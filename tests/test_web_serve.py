"""`tidings serve` and `tidings demo` refuse to listen unsafely, or on a busy port, in one line.

Run as a user runs them: real subprocesses. 192.0.2.1 (TEST-NET-1) is an address no machine
here has, so nothing ever listens beyond loopback: a refused key exits before binding, and an
accepted one fails to bind.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.http import free_port

NOWHERE = "192.0.2.1"


def tidings(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI; a server that starts by mistake is stopped by the timeout."""
    return subprocess.run(
        [sys.executable, "-m", "tidings", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port somebody else is listening on."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield int(held.getsockname()[1])


class TestPublicDevKey:
    @pytest.mark.parametrize("key", [None, "a-real-looking-but-short-key"])
    def test_dev_or_short_key_is_refused_beyond_loopback(
        self, tmp_path: Path, key: str | None
    ) -> None:
        """The public development key (or one under 32 characters) never serves beyond
        loopback: one line naming the setting, exit 2."""
        env = {"TIDINGS_WEB__SECRET_KEY": key} if key else {}
        result = tidings(
            "serve", "--host", NOWHERE, "--port", str(free_port()), cwd=tmp_path, env=env
        )
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ") and "TIDINGS_WEB__SECRET_KEY" in lines[0]
        assert NOWHERE in lines[0] and "127.0.0.1" in lines[0]

    def test_a_strong_key_passes_the_check(self, tmp_path: Path) -> None:
        """With a random 43-character key the same host gets as far as binding, which fails
        here with its own one-line error."""
        env = {"TIDINGS_WEB__SECRET_KEY": secrets.token_urlsafe(32)}
        result = tidings(
            "serve", "--host", NOWHERE, "--port", str(free_port()), cwd=tmp_path, env=env
        )
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert f"cannot listen on {NOWHERE}" in lines[0] and "SECRET_KEY" not in lines[0]


class TestBusyPort:
    def test_serve_names_the_option(self, tmp_path: Path, db_url: str, busy_port: int) -> None:
        """A taken port is one line that says how to pick another, not uvicorn's log."""
        result = tidings(
            "serve", "--port", str(busy_port), cwd=tmp_path, env={"TIDINGS_DATABASE_URL": db_url}
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == (
            f"error: port {busy_port} on 127.0.0.1 is in use: pass --port N"
            " (or set TIDINGS_WEB__PORT)"
        )

    def test_demo_names_the_option_before_its_work(self, tmp_path: Path, busy_port: int) -> None:
        """The demo checks its port first, so a taken one costs no waiting."""
        result = tidings("demo", "--orders", "0", "--port", str(busy_port), cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert (
            result.stderr.strip()
            == f"error: port {busy_port} on 127.0.0.1 is in use: pass --port N"
        )
        assert "sample emails" not in result.stdout
