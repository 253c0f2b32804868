"""Migrations: the same schema on SQLite and PostgreSQL, reversible, and matching the models."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from tests.conftest import scratch_postgres
from tidings.errors import StorageError
from tidings.store.base import Base
from tidings.store.checkpoints import not_a_checkpoint_table
from tidings.store.db import make_engine
from tidings.store.migrate import (
    current_revision,
    downgrade,
    head_revision,
    require_current,
    upgrade,
)


@pytest.fixture
def empty_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of this run's backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with scratch_postgres("tidings_mig") as url:
        yield url


class TestMigrations:
    def test_upgrade_downgrade_upgrade(self, empty_url: str) -> None:
        """The schema applies, reverts to nothing, and applies again."""
        upgrade(empty_url)
        engine = make_engine(empty_url)
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert tables >= {t.name for t in Base.metadata.sorted_tables}
        downgrade(empty_url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(empty_url)
        assert current_revision(engine) == head_revision()
        engine.dispose()

    def test_models_match_migrations(self, db_url: str) -> None:
        """Autogenerate finds nothing to add: the models and the migrations agree."""
        engine = make_engine(db_url)
        with engine.connect() as conn, warnings.catch_warnings():
            # SQLite cannot reflect the templates' expression index; PostgreSQL compares it.
            warnings.filterwarnings("ignore", message=".*expression-based index.*")
            warnings.filterwarnings("ignore", message=".*[Ss]kipped unsupported reflection.*")
            diff = compare_metadata(
                MigrationContext.configure(
                    conn, opts={"compare_type": True, "include_name": not_a_checkpoint_table}
                ),
                Base.metadata,
            )
        engine.dispose()
        assert diff == []

    def test_unmigrated_database_is_refused_with_the_fix(self, empty_url: str) -> None:
        """Commands refuse an unmigrated database and say which command fixes it."""
        engine = make_engine(empty_url)
        with pytest.raises(StorageError, match="tidings db upgrade"):
            require_current(engine)
        engine.dispose()
