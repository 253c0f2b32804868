"""Alembic environment: URL from ``tidings.store.migrate``, metadata from the models."""

from __future__ import annotations

from alembic import context

from tidings.store import models  # noqa: F401 - registers every table on the metadata
from tidings.store.base import Base
from tidings.store.checkpoints import not_a_checkpoint_table
from tidings.store.db import make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against a live database; batch mode lets SQLite alter tables."""
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None  # noqa: S101 - set by tidings.store.migrate.alembic_config
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=True,
                compare_type=True,
                include_name=not_a_checkpoint_table,  # LangGraph's savers own those
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
