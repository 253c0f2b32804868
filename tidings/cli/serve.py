"""``tidings serve``: run the web app, after checking it may listen where it was asked to."""

from __future__ import annotations

import errno
import ipaddress
import socket

import typer
import uvicorn

from tidings.cli.common import console, fail, load_settings, open_database
from tidings.config.settings import DEV_SECRET_KEY, WebSettings
from tidings.web.app import create_app

MIN_SECRET_KEY = 32
SERVE_PORT_FIX = "pass --port N (or set TIDINGS_WEB__PORT)"


def serve(
    host: str | None = typer.Option(None, help="listen address (default: TIDINGS_WEB__HOST)"),
    port: int | None = typer.Option(None, help="listen port (default: TIDINGS_WEB__PORT)"),
) -> None:
    """Serve the web app until interrupted."""
    settings = load_settings()
    listener = listen(settings.web, host=host or settings.web.host, port=port or settings.web.port)
    database = open_database(settings)
    run_web(create_app(settings, engine=database.engine), listener)


def listen(
    web: WebSettings, *, host: str, port: int, port_fix: str = SERVE_PORT_FIX
) -> socket.socket:
    """The socket the app will serve on, bound before any other work; exits 2 with the fix when
    the key is unsafe for ``host`` or the address cannot be had. Shared with ``tidings demo``."""
    refuse_public_dev_key(web, host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fail(f"port {port} on {host} is in use: {port_fix}")
        reason = exc.strerror or str(exc)
        fail(
            f"cannot listen on {host}:{port}: {reason}:"
            " pass --host ADDRESS (or set TIDINGS_WEB__HOST)"
        )
    return sock


def refuse_public_dev_key(web: WebSettings, host: str) -> None:
    """Exit 2 when ``host`` is reachable from other machines and the secret key is the public
    development one or too short: anyone could sign what the app trusts."""
    key = web.secret_key.get_secret_value()
    if is_loopback(host) or (key != DEV_SECRET_KEY and len(key) >= MIN_SECRET_KEY):
        return
    problem = "is the public development key" if key == DEV_SECRET_KEY else "is too short"
    fail(
        f"TIDINGS_WEB__SECRET_KEY {problem}, so the web app may only listen on 127.0.0.1, not "
        f"{host}: set TIDINGS_WEB__SECRET_KEY to {MIN_SECRET_KEY}+ random characters, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (a name other than localhost counts as
    reachable: it may resolve anywhere)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_web(app: object, listener: socket.socket) -> None:
    """Print where the app is and serve it on ``listener``; shared with ``tidings demo``."""
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    console.print(f"web app: [bold]http://{shown}:{port}/[/]  (Ctrl+C to stop)")
    # log_config=None: uvicorn logs through the root handlers, so their masking applies to it.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", log_config=None))  # type: ignore[arg-type]
    server.run(sockets=[listener])
