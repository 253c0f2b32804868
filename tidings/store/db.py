"""Engines and sessions. SQLite is set up for one writer at a time; PostgreSQL as it comes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tidings.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option marking a connection whose transactions only read (see _configure_sqlite).
READ_ONLY_OPTION = "tidings_read_only"


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (``postgresql://``, ``postgres://``) and pick psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE`` transactions.

    Why IMMEDIATE: a deferred transaction that reads and then writes can fail at once with
    "database is locked" when another process wrote in between (the busy handler is not consulted
    for that upgrade). Taking the write lock up front serialises writers and lets them wait: this
    is the single-writer path of the embedded default. Read-only sessions (the web app's pages)
    begin deferred instead, so they never queue behind writers: WAL lets them read meanwhile.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for a Tidings database URL; ``ConfigError`` names the fix for a URL
    SQLAlchemy cannot use (unparseable, an unknown dialect, a driver that is not installed)."""
    try:
        return _create_engine(normalize_url(url), echo=echo)
    except (ArgumentError, ImportError) as exc:
        # The message never repeats the URL: it may hold a password.
        raise ConfigError(
            f"cannot use the database URL ({type(exc).__name__}: {exc}): set "
            "TIDINGS_DATABASE_URL to sqlite:///path/to/tidings.db or "
            "postgresql://user:password@host/dbname"
        ) from None


def _create_engine(url: str, *, echo: bool) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        _configure_sqlite(engine)
        return engine
    # hide_parameters: errors and echo must not carry customer data or email text into logs.
    return create_engine(
        url, echo=echo, hide_parameters=True, pool_pre_ping=True, pool_size=5, max_overflow=10
    )


SessionFactory = sessionmaker[Session]


def make_session_factory(engine: Engine, *, read_only: bool = False) -> SessionFactory:
    """A session factory whose objects stay readable after commit. ``read_only`` sessions must
    not write: on SQLite they do not take the write lock; on PostgreSQL they run in autocommit,
    which under READ COMMITTED (a snapshot per statement either way) reads the same and saves
    the BEGIN and ROLLBACK round trips of every read."""
    if not read_only:
        return sessionmaker(engine, expire_on_commit=False)
    options: dict[str, Any] = {READ_ONLY_OPTION: True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    return sessionmaker(engine.execution_options(**options), expire_on_commit=False)


@contextmanager
def transaction(factory: SessionFactory) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any exception."""
    with factory() as session, session.begin():
        yield session


def refused_data(exc: BaseException) -> bool:
    """Whether the database refused this data (too long, wrong type, a constraint): the same
    row would be refused again, so it is the row's failure, not an outage."""
    return isinstance(exc, DataError | IntegrityError)
