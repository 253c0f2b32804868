"""Queue health figures: how many rows wait in each state, and how old the oldest one is."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from tidings.store.base import utcnow
from tidings.store.enums import EmailState, NotificationState
from tidings.store.models import BrandRow, Case, InboundEmail, Notification, Order


class QueueHealth(BaseModel):
    """Counts by state, for the dashboard and ``/api/queue``."""

    emails: dict[str, int]
    cases: dict[str, int]
    notifications: dict[str, int]
    orders: int
    brands: list[str]
    oldest_waiting_email_seconds: float | None
    generated_at: datetime


def _counts(session: Session, column: InstrumentedAttribute[Any]) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).group_by(column)).all()
    return {str(getattr(state, "value", state)): int(count) for state, count in rows}


def queue_health(session: Session) -> QueueHealth:
    """Read the current queue figures in one short transaction."""
    now = utcnow()
    oldest = session.scalar(
        select(func.min(InboundEmail.received_at)).where(
            InboundEmail.state.in_([EmailState.RECEIVED, EmailState.PARSED])
        )
    )
    return QueueHealth(
        emails=_counts(session, InboundEmail.state),
        cases=_counts(session, Case.state),
        notifications=_counts(session, Notification.state),
        orders=int(session.scalar(select(func.count()).select_from(Order)) or 0),
        brands=list(session.scalars(select(BrandRow.slug).order_by(BrandRow.slug))),
        oldest_waiting_email_seconds=(now - oldest).total_seconds() if oldest else None,
        generated_at=now,
    )


def needs_attention(health: QueueHealth) -> int:
    """Rows an operator should look at: quarantined emails and dead notifications."""
    return health.emails.get(EmailState.QUARANTINED.value, 0) + health.notifications.get(
        NotificationState.DEAD.value, 0
    )
