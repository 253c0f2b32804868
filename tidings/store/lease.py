"""Leasing work rows to workers, and recording how their attempt ended.

One statement claims rows: ``UPDATE ... WHERE id IN (eligible ids) RETURNING id``.
- PostgreSQL: the inner SELECT takes ``FOR UPDATE SKIP LOCKED``, so concurrent workers each get
  different rows and never wait on each other.
- SQLite: the UPDATE runs under the database's single write lock (``BEGIN IMMEDIATE``), so
  claims are serialised; that is the single-writer path.
A lease expires: the rows of a worker that died come back to the pool without anyone's help.
Finishing a row checks the lease is still ours, so a worker that stalled past its lease cannot
overwrite the work of the one that took the row over.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from tidings.errors import LeaseLostError
from tidings.store.base import utcnow


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, then a dead-letter state."""

    max_attempts: int = 5
    base_seconds: float = 5.0
    cap_seconds: float = 3600.0

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """Wait before attempt ``attempts + 1``: base * 2^(attempts-1), capped, 50-100% jitter
        so that rows that failed together do not retry together."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=ceiling * (rng or random).uniform(0.5, 1.0))


def _eligible(model: type[Any], states: Iterable[StrEnum], now: datetime) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = (
        model.state.in_(list(states))
        & or_(model.lease_expires_at.is_(None), model.lease_expires_at < now)
        & or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now)
    )
    return condition


def lease(
    *,
    session: Session,
    model: type[Any],
    states: Sequence[StrEnum],
    owner: str,
    limit: int = 10,
    lease_for: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
) -> list[int]:
    """Claim up to ``limit`` eligible rows for ``owner`` and commit; return their ids, oldest
    first."""
    now = now or utcnow()
    candidates = (
        select(model.id).where(_eligible(model, states, now)).order_by(model.id).limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claim = (
        update(model)
        .where(model.id.in_(candidates.scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=now + lease_for)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    ids = sorted(session.execute(claim).scalars().all())
    session.commit()
    return ids


def _owned(model: type[Any], row_id: int, owner: str) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = (model.id == row_id) & (model.lease_owner == owner)
    return condition


def complete(
    *, session: Session, model: type[Any], row_id: int, owner: str, state: StrEnum, **values: Any
) -> bool:
    """Move a leased row to ``state`` and release it, in the caller's transaction. False when the
    lease was lost (expired and taken over): the caller must then roll back its work."""
    result = session.execute(
        update(model)
        .where(_owned(model, row_id, owner))
        .values(
            state=state,
            lease_owner=None,
            lease_expires_at=None,
            last_error=None,
            # The next step starts with a clean slate: its failures are its own.
            attempts=0,
            next_attempt_at=None,
            **values,
        )
        .execution_options(synchronize_session=False)
    )
    rowcount: int = result.rowcount  # type: ignore[attr-defined]  # CursorResult for UPDATE
    return rowcount > 0


def fail(
    *,
    session: Session,
    model: type[Any],
    row_id: int,
    owner: str,
    error: str,
    dead_state: StrEnum,
    policy: RetryPolicy,
    now: datetime | None = None,
) -> bool:
    """Record a failed attempt: schedule a retry with backoff, or move the row to ``dead_state``
    after ``policy.max_attempts``. Returns True when the row went dead."""
    now = now or utcnow()
    attempts = session.execute(
        select(model.attempts).where(_owned(model, row_id, owner))
    ).scalar_one_or_none()
    if attempts is None:
        return False  # lease lost: the new owner decides
    attempts = int(attempts) + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_error": error[:4000],
        "lease_owner": None,
        "lease_expires_at": None,
    }
    dead = attempts >= policy.max_attempts
    if dead:
        values["state"] = dead_state
    else:
        values["next_attempt_at"] = now + policy.delay(attempts)
    session.execute(
        update(model)
        .where(_owned(model, row_id, owner))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return dead


def renew(
    *,
    session: Session,
    model: type[Any],
    row_id: int,
    owner: str,
    lease_for: timedelta,
    now: datetime | None = None,
) -> bool:
    """Extend a lease that is still ours and unexpired, and commit. False when it lapsed: the row
    may belong to another worker now and must be left alone."""
    now = now or utcnow()
    result = session.execute(
        update(model)
        .where(_owned(model, row_id, owner) & (model.lease_expires_at > now))
        .values(lease_expires_at=now + lease_for)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    rowcount: int = result.rowcount  # type: ignore[attr-defined]  # CursorResult for UPDATE
    return rowcount > 0


def holds(
    *, session: Session, model: type[Any], row_id: int, owner: str, now: datetime | None = None
) -> bool:
    """Whether ``owner`` holds an unexpired lease on the row (a read; nothing is changed)."""
    now = now or utcnow()
    found = session.scalar(
        select(model.id).where(_owned(model, row_id, owner) & (model.lease_expires_at > now))
    )
    return found is not None


def release(*, session: Session, model: type[Any], row_ids: Iterable[int], owner: str) -> None:
    """Give leased rows back untouched (graceful shutdown)."""
    session.execute(
        update(model)
        .where(model.id.in_(list(row_ids)) & (model.lease_owner == owner))
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


def assert_owned(
    *,
    session: Session,
    model: type[Any],
    row_id: int,
    owner: str,
    lease_for: timedelta,
    now: datetime | None = None,
) -> None:
    """Fence a write: in the caller's transaction, extend our lease on the row or raise
    ``LeaseLostError`` when it is no longer ours. On PostgreSQL the UPDATE also locks the row
    until commit, so a worker that took the row over meanwhile waits instead of interleaving."""
    now = now or utcnow()
    result = session.execute(
        update(model)
        .where(_owned(model, row_id, owner))
        .values(lease_expires_at=now + lease_for)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]  # CursorResult for UPDATE
        raise LeaseLostError(f"lease on {model.__name__} {row_id} is no longer ours")
