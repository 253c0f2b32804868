"""Test databases: every test gets a clean, migrated database.

Pick the backend with ``--db=sqlite`` (default) or ``--db=postgresql`` (or TIDINGS_TEST_DB).
- SQLite: the schema is migrated once into a template file; each test gets a fresh copy.
- PostgreSQL: one throwaway database per run (TIDINGS_TEST_POSTGRES_URL points at the server),
  migrated once; every table is truncated after each test.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tests.browser import DESKTOP, chromium
from tidings.config import BrandsFile, Settings, load_brands
from tidings.config.settings import BUNDLED_BRANDS_FILE
from tidings.logs import configure_logging
from tidings.store.base import Base
from tidings.store.db import SessionFactory, make_engine, make_session_factory, normalize_url
from tidings.store.migrate import upgrade

if TYPE_CHECKING:  # for types only: without Playwright the browser tests skip
    from playwright.sync_api import Browser, Page

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=["sqlite", "postgresql"],
        default=os.environ.get("TIDINGS_TEST_DB", "sqlite"),
        help="database backend for the storage tests",
    )
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = config.getoption("--db")
    skip_pg = pytest.mark.skip(reason="PostgreSQL-only: runs in the --db=postgresql pass")
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        # Tests that touch a database run in both passes; the rest need only the first.
        if "backend" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
        if "postgres" in item.keywords and backend != "postgresql":
            item.add_marker(skip_pg)
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)


@pytest.fixture(autouse=True)
def _no_developer_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's TIDINGS_* variables (a real LLM key, a production database) never leak into
    tests; tests that need a setting set it themselves."""
    for name in list(os.environ):
        if (
            name.startswith("TIDINGS_")
            and name != "TIDINGS_TEST_POSTGRES_URL"
            and name != "TIDINGS_TEST_DB"
        ):
            monkeypatch.delenv(name)
    # Nor does a .env in the working directory (`tidings demo` writes one).
    monkeypatch.setitem(Settings.model_config, "env_file", None)


@pytest.fixture(scope="session", autouse=True)
def _subprocesses_run_this_checkout() -> None:
    """``python -m tidings`` in a subprocess imports this checkout's code, whichever checkout the
    virtualenv's editable install points at (git worktrees share one venv)."""
    root = str(Path(__file__).resolve().parent.parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))


@pytest.fixture(scope="session", autouse=True)
def _quiet_logs() -> None:
    """Warnings and errors only: tests assert outcomes, not log lines."""
    configure_logging(level="WARNING")


@pytest.fixture(scope="session")
def backend(pytestconfig: pytest.Config) -> str:
    """The database backend of this run."""
    return str(pytestconfig.getoption("--db"))


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """An empty PostgreSQL database on the test server, dropped afterwards; yields its URL."""
    server = make_url(normalize_url(os.environ.get("TIDINGS_TEST_POSTGRES_URL", DEFAULT_PG)))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def _pg_database(backend: str) -> Iterator[str | None]:
    """A migrated throwaway PostgreSQL database for the whole run."""
    if backend != "postgresql":
        yield None
        return
    with scratch_postgres("tidings_test") as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def db_url(
    backend: str, _pg_database: str | None, _sqlite_template: Path, tmp_path: Path
) -> Iterator[str]:
    """URL of a clean, migrated database for this test."""
    if backend == "postgresql":
        assert _pg_database is not None
        yield _pg_database
        _truncate_all(_pg_database)
        return
    path = tmp_path / "tidings.db"
    shutil.copyfile(_sqlite_template, path)
    yield f"sqlite:///{path}"


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    # LangGraph's checkpoint tables too: thread ids restart with the email ids.
    checkpoints = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
    names = [t.name for t in Base.metadata.sorted_tables] + list(checkpoints)
    tables = ", ".join(f'"{name}"' for name in names)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on this test's database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> SessionFactory:
    """A session factory on this test's database."""
    return make_session_factory(engine)


@pytest.fixture(scope="session")
def brands() -> BrandsFile:
    """The bundled demo brands."""
    return load_brands(BUNDLED_BRANDS_FILE)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for a module of browser tests (tests/browser.py)."""
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) at desktop size."""
    context = browser.new_context(viewport=DESKTOP)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()
