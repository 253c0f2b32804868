"""``Work``: one leased row in a step's hands, and the fenced transactions it may write in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from tidings.errors import LeaseLostError
from tidings.store import lease as leasing
from tidings.store.db import SessionFactory, transaction


@dataclass
class LeaseProof:
    """Until when (monotonic clock) this process knows the lease is its own without asking."""

    until: float = 0.0

    def renewed(self, at: float, lease_for: timedelta) -> None:
        """The lease was set to run ``lease_for`` from ``at`` (monotonic): for a third of that
        no other worker can take the row (a lease is taken only once expired), so it is ours
        without asking; two thirds stay as slack for clock skew between hosts."""
        self.until = at + lease_for.total_seconds() / 3


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
    proof: LeaseProof = field(default_factory=LeaseProof, compare=False, repr=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session: no write lock held (slow work such as an LLM call goes here)."""
        with self.read_sessions() as session:
            yield session

    @contextmanager
    def fenced(self) -> Iterator[Session]:
        """A write transaction that commits only while the lease is still ours (its commit
        renews the lease, so ``holds()`` needs no query for a while)."""
        started = time.monotonic()
        with transaction(self.sessions) as session:
            self.assert_owned(session)
            yield session
        self.proof.renewed(started, self.lease_for)

    def holds(self) -> bool:
        """Whether the lease is still ours, read without writing (no commit to wait for): a
        quick check before work; writes are fenced by ``fenced()`` all the same."""
        if time.monotonic() < self.proof.until:  # leased or renewed moments ago
            return True
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
