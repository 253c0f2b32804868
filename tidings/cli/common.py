"""What every command shares: settings, the database, errors turned into exit codes, progress."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple, NoReturn

import typer
from alembic.util import CommandError as AlembicCommandError
from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine
from sqlalchemy.exc import DatabaseError, OperationalError

from tidings.config import BrandsFile, Settings, load_brands
from tidings.errors import TidingsError
from tidings.logs import configure_logging
from tidings.redact import redact
from tidings.store.db import SessionFactory, make_engine, make_session_factory
from tidings.store.migrate import require_current

# soft_wrap: never break lines to a guessed width; messages and JSON must survive a pipe.
console = Console(soft_wrap=True)


def print_json(document: object) -> None:
    """One JSON document on one line (a command's ``--json`` output), nothing highlighted."""
    console.print(json.dumps(document, default=str), markup=False, highlight=False, soft_wrap=True)


err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error the user can act on and exit: one line, then any details indented."""
    first, *details = message.strip().splitlines() or [""]
    err_console.print("error:", style="bold red", end=" ")
    err_console.print(first, markup=False, highlight=False)
    for line in details:
        indent = "" if line.startswith((" ", "\t")) else "  "
        err_console.print(indent + line, markup=False, highlight=False)
    raise typer.Exit(code)


@contextmanager
def errors_as_exit() -> Iterator[None]:
    """Turn Tidings' own errors, bad settings and an unusable database into a message that
    names the fix and exit code 2, not a traceback."""
    try:
        yield
    except TidingsError as exc:
        fail(str(exc))
    except ValidationError as exc:
        fail(_invalid(exc))
    except SettingsError as exc:
        fail(_undecodable(exc))
    except AlembicCommandError as exc:
        fail(f"migration failed: {exc}")
    except OperationalError as exc:
        fail(
            f"cannot reach the database ({_first_line(exc.orig)}): check TIDINGS_DATABASE_URL "
            "and that the database server is running"
        )
    except DatabaseError as exc:
        if not _unreadable(exc):
            raise
        fail(
            f"the database cannot be read ({_first_line(exc.orig)}): TIDINGS_DATABASE_URL must "
            "point at a Tidings database; move a damaged file away and run `tidings db upgrade` "
            "to start a new one"
        )


def _first_line(error: object) -> str:
    """The first line of a driver's message, masked: it may quote a URL or a user name."""
    lines = str(error).strip().splitlines()
    return redact(lines[0] if lines else type(error).__name__)


def _unreadable(exc: DatabaseError) -> bool:
    """A file that is not a database, or a damaged one: SQLite's bare DatabaseError. Its
    subclasses (a refused row, a bad query) are bugs or data errors, not configuration."""
    return type(exc) is DatabaseError


def _env_name(loc: tuple[int | str, ...]) -> str:
    """The variable a settings error is about: ("llm", "base_url") is TIDINGS_LLM__BASE_URL;
    within a JSON list, the item and key follow, e.g. TIDINGS_MAILBOXES[0].host."""
    names = [str(part) for part in loc]
    path: list[str] = []
    while names and not names[0].isdigit():
        path.append(names.pop(0))
    variable = "TIDINGS_" + "__".join(path).upper()
    return variable + "".join(f"[{n}]" if n.isdigit() else f".{n}" for n in names)


def _invalid(exc: ValidationError) -> str:
    """A settings error as one line plus one line per variable; never the input, which may be
    a password."""
    errors = exc.errors(include_input=False, include_url=False)
    if exc.title != Settings.__name__:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors]
        return f"invalid {exc.title}:\n" + "\n".join(lines)
    lines = [f"  {_env_name(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in errors]
    return "invalid settings: fix these variables (environment or .env)\n" + "\n".join(lines)


def _undecodable(exc: SettingsError) -> str:
    """pydantic-settings could not decode a list or section: name its variable and the fix."""
    found = re.search(r'field "([^"]+)"', str(exc))
    field = found.group(1) if found else ""
    variable = f"TIDINGS_{field.upper()}" if field else "a TIDINGS_* variable"
    annotation = Settings.model_fields[field].annotation if field in Settings.model_fields else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        # A section: the culprit is one of its parts, e.g. TIDINGS_INBOX__CARRIER_DOMAINS.
        variable = f"{variable} or a {variable}__* variable"
    where = " in .env" if "DotEnv" in str(exc) else ""
    reason = f" ({exc.__cause__})" if exc.__cause__ else ""
    return (
        f"{variable}{where} is not valid JSON{reason}: write lists as JSON, "
        """e.g. '["dhl", "fedex"]' or '[{"name": "kapas-support", ...}]'"""
    )


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
