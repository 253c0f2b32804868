"""``Work``: one leased row in a step's hands, and the fenced transactions it may write in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from tidings.errors import LeaseLostError
from tidings.store import lease as leasing
from tidings.store.db import SessionFactory, transaction


@dataclass(frozen=True)
class Work:
    """A row this worker holds the lease on.

    Every write goes through ``fenced()``: the transaction first re-asserts the lease, so a
    worker that stalled past its lease (and lost the row to another) cannot commit anything.
    """

    model: type[Any]
    row_id: int
    owner: str
    lease_for: timedelta
    sessions: SessionFactory
    read_sessions: SessionFactory

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session: no write lock held (slow work such as an LLM call goes here)."""
        with self.read_sessions() as session:
            yield session

    @contextmanager
    def fenced(self) -> Iterator[Session]:
        """A write transaction that commits only while the lease is still ours."""
        with transaction(self.sessions) as session:
            self.assert_owned(session)
            yield session

    def holds(self) -> bool:
        """Whether the lease is still ours, read without writing (no commit to wait for): a
        quick check before work; writes are fenced by ``fenced()`` all the same."""
        with self.read() as session:
            return leasing.holds(
                session=session, model=self.model, row_id=self.row_id, owner=self.owner
            )

    def assert_owned(self, session: Session) -> None:
        """Raise ``LeaseLostError`` (rolling back the caller) unless the lease is ours."""
        leasing.assert_owned(
            session=session,
            model=self.model,
            row_id=self.row_id,
            owner=self.owner,
            lease_for=self.lease_for,
        )

    def complete(self, session: Session, state: StrEnum, **values: Any) -> None:
        """Move the row to ``state`` and release it, in the caller's fenced transaction."""
        if not leasing.complete(
            session=session,
            model=self.model,
            row_id=self.row_id,
            owner=self.owner,
            state=state,
            **values,
        ):
            raise LeaseLostError(f"lease on {self.model.__name__} {self.row_id} was lost")
