"""What every command shares: settings, the database, errors turned into exit codes, progress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple, NoReturn

import typer
from alembic.util import CommandError as AlembicCommandError
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from tidings.config import BrandsFile, Settings, load_brands
from tidings.errors import TidingsError
from tidings.logs import configure_logging
from tidings.store.db import SessionFactory, make_engine, make_session_factory
from tidings.store.migrate import require_current

# soft_wrap: never break lines to a guessed width; messages and JSON must survive a pipe.
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error the user can act on and exit."""
    err_console.print("error:", style="bold red", end=" ")
    err_console.print(message, markup=False, highlight=False)
    raise typer.Exit(code)


@contextmanager
def errors_as_exit() -> Iterator[None]:
    """Turn Tidings' own errors into a one-line message and exit code 2, not a traceback."""
    try:
        yield
    except TidingsError as exc:
        fail(str(exc))
    except ValidationError as exc:
        # Never echo the input: a mistyped setting may be a password.
        details = "\n".join(
            f"  {'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        fail(f"invalid settings:\n{details}")
    except AlembicCommandError as exc:
        fail(f"migration failed: {exc}")
    except OperationalError as exc:
        fail(f"cannot reach the database: {exc.orig}. Check TIDINGS_DATABASE_URL.")


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and .env, plus command-line overrides; logging set up."""
    with errors_as_exit():
        settings = Settings(**overrides)  # type: ignore[arg-type]
    configure_logging(level=settings.log_level, json=settings.log_json, sdk=settings.log_sdk)
    return settings


def load_brands_for(settings: Settings) -> BrandsFile:
    """The brands file the settings point at."""
    with errors_as_exit():
        return load_brands(settings.brands_file)


class Database(NamedTuple):
    """An engine and a session factory on it."""

    engine: Engine
    sessions: SessionFactory


def open_database(settings: Settings, *, check_schema: bool = True) -> Database:
    """The configured database, refusing an unmigrated schema."""
    with errors_as_exit():
        engine = make_engine(settings.database_url)
        if check_schema:
            require_current(engine)
    return Database(engine, make_session_factory(engine))


def progress_bar() -> Progress:
    """The progress bar long commands show."""
    return Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
