"""LangGraph's checkpoint tables in the Tidings database: opening a saver, creating its tables
(``tidings db upgrade``), and pruning the threads of closed cases.

SQLite gets LangGraph's SQLite saver on its own connection (WAL, and a busy timeout so it waits
for our writers instead of failing); PostgreSQL gets the Postgres saver. LangGraph's savers own
their schema, so they create it rather than an Alembic migration.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.sqlite import SqliteSaver
from psycopg.rows import dict_row
from sqlalchemy.engine import make_url

from tidings.store.db import SQLITE_BUSY_TIMEOUT_MS, make_engine, normalize_url

# LangGraph's tables (both savers'): Alembic leaves them alone, downgrades to base drop them.
CHECKPOINT_TABLES = frozenset(
    {"checkpoints", "writes", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations"}
)


def not_a_checkpoint_table(name: str | None, type_: str, _parent: object) -> bool:
    """Alembic's ``include_name`` hook: compare every table but LangGraph's."""
    return not (type_ == "table" and name in CHECKPOINT_TABLES)


@contextmanager
def open_checkpointer(
    url: str, *, serde: SerializerProtocol | None = None
) -> Iterator[SqliteSaver | PostgresSaver]:
    """The saver for the database at ``url``, open for the block; ``serde`` names the types a
    checkpoint may hold (the agent passes its allowlist)."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database or ":memory:"
        lite = sqlite3.connect(path, check_same_thread=False, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            lite.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            lite.execute("PRAGMA journal_mode=WAL")
            lite.execute("PRAGMA synchronous=NORMAL")
            yield SqliteSaver(lite, serde=serde)
        finally:
            lite.close()
        return
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(
        conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row
    ) as conn:
        yield PostgresSaver(conn, serde=serde)


def setup_checkpoints(url: str) -> None:
    """Create (or migrate) the checkpoint tables; part of ``tidings db upgrade``."""
    with open_checkpointer(url) as saver:
        saver.setup()


def forget_thread(url: str, thread_id: str) -> None:
    """Delete one graph thread's checkpoints: its case runs again from the start."""
    with open_checkpointer(url) as saver:
        saver.delete_thread(thread_id)


def prune(saver: BaseCheckpointSaver[str], thread_ids: Sequence[str]) -> int:
    """Delete the checkpoints of these threads (closed cases); returns how many threads."""
    for thread_id in thread_ids:
        saver.delete_thread(thread_id)
    return len(thread_ids)


def drop_checkpoints(url: str) -> None:
    """Drop LangGraph's tables (a downgrade to an empty database)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for name in sorted(CHECKPOINT_TABLES):
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
    finally:
        engine.dispose()
