"""Apply Alembic migrations from code: ``tidings db upgrade`` and the test suite use this."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from tidings.errors import StorageError
from tidings.store.checkpoints import drop_checkpoints, setup_checkpoints
from tidings.store.db import make_engine, normalize_url


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", "tidings.store:migrations")
    # ConfigParser interpolation treats % specially; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` up to ``revision`` (default: every newest head), with the
    agent's checkpoint tables (LangGraph's savers own their schema, so they create it)."""
    command.upgrade(alembic_config(url), revision)
    if revision == "heads":
        setup_checkpoints(url)


def downgrade(url: str, revision: str) -> None:
    """Take the database at ``url`` down to ``revision`` (``base`` empties it)."""
    command.downgrade(alembic_config(url), revision)
    if revision == "base":
        drop_checkpoints(url)


def head_revision() -> str | None:
    """The newest migration(s) shipped in the package, comma-separated when there are several."""
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    return ",".join(sorted(heads)) or None


def current_revision(bind: Engine | Connection) -> str | None:
    """The revision(s) the database is at, or None when it was never migrated."""
    if isinstance(bind, Connection):
        heads = MigrationContext.configure(bind).get_current_heads()
    else:
        with bind.connect() as connection:
            heads = MigrationContext.configure(connection).get_current_heads()
    return ",".join(sorted(heads)) or None


def require_current(engine: Engine) -> None:
    """Raise ``StorageError`` with the fix when the schema is missing or behind."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise StorageError(
            f"database schema is at {current or 'nothing'}, the code needs {head}: "
            "run `tidings db upgrade`"
        )


def upgrade_url(url: str) -> None:
    """Upgrade to head and check the result, for callers that only have a URL."""
    upgrade(url)
    engine = make_engine(url)
    try:
        require_current(engine)
    finally:
        engine.dispose()
