"""``tidings serve``: run the web app."""

from __future__ import annotations

import typer
import uvicorn

from tidings.cli.common import console, load_settings, open_database
from tidings.web.app import create_app


def serve(
    host: str | None = typer.Option(None, help="listen address (default: TIDINGS_WEB__HOST)"),
    port: int | None = typer.Option(None, help="listen port (default: TIDINGS_WEB__PORT)"),
) -> None:
    """Serve the web app until interrupted."""
    settings = load_settings()
    database = open_database(settings)
    run_web(
        create_app(settings, engine=database.engine),
        host or settings.web.host,
        port or settings.web.port,
    )


def run_web(app: object, host: str, port: int) -> None:
    """Print where the app is and serve it; shared with ``tidings demo``."""
    console.print(f"web app: [bold]http://{host}:{port}/[/]  (Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")  # type: ignore[arg-type]
