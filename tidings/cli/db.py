"""``tidings db``: apply and inspect migrations."""

from __future__ import annotations

import typer

from tidings.cli.common import console, errors_as_exit, load_settings
from tidings.store import migrate
from tidings.store.db import make_engine

app = typer.Typer(help="Database schema: apply and inspect migrations.", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("heads", help="target revision")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    settings = load_settings()
    with errors_as_exit():
        migrate.upgrade(settings.database_url, revision)
        engine = make_engine(settings.database_url)
        reached = migrate.current_revision(engine)
        engine.dispose()
    console.print(f"database is at revision [bold]{reached}[/]")


@app.command()
def downgrade(revision: str = typer.Argument(..., help="target revision, or 'base'")) -> None:
    """Revert migrations down to REVISION."""
    settings = load_settings()
    with errors_as_exit():
        migrate.downgrade(settings.database_url, revision)
    console.print(f"database is at revision [bold]{revision}[/]")


@app.command()
def current() -> None:
    """Show the database's revision and the newest one the code ships."""
    settings = load_settings()
    with errors_as_exit():
        engine = make_engine(settings.database_url)
        revision = migrate.current_revision(engine)
        engine.dispose()
    console.print(f"database: {revision or 'not migrated'} · code: {migrate.head_revision()}")
