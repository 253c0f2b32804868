"""Delivery status from providers: sent -> delivered -> read, or failed.

Providers call back in any order, more than once, and sometimes before the send that caused
them has committed. So every report is stored once (its key is unique), a notification only ever
moves forward (read beats delivered beats sent), and a report for a row that is still being sent
waits, unapplied, until the dispatcher records the provider message id and applies it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.channels.outbox import POSSIBLY_SENT
from tidings.store.base import utcnow
from tidings.store.enums import NotificationState
from tidings.store.models import DeliveryEvent, Notification

S = NotificationState
TWILIO_STATUSES: dict[str, NotificationState | None] = {
    "queued": None,
    "accepted": None,
    "scheduled": None,
    "sending": None,
    "sent": S.SENT,
    "delivered": S.DELIVERED,
    "read": S.READ,
    "undelivered": S.FAILED,
    "failed": S.FAILED,
    "canceled": S.FAILED,
}
SENDGRID_STATUSES: dict[str, NotificationState | None] = {
    "processed": S.SENT,
    "deferred": None,
    "delivered": S.DELIVERED,
    "open": S.READ,
    "click": S.READ,
    "bounce": S.FAILED,
    "dropped": S.FAILED,
}
# A row moves only to a higher rank; failed and delivered exclude each other.
_RANK = {S.SENT: 1, S.DELIVERED: 2, S.FAILED: 2, S.READ: 3}
CONFIRMED = "confirmed sent by a provider report after a crash"

Outcome = Literal["applied", "waiting", "duplicate", "ignored"]


@dataclass(frozen=True)
class StatusReport:
    """One provider report, normalised."""

    provider: str
    provider_message_id: str
    status: str
    event_key: str
    state: NotificationState | None
    notification_hint: int | None = None
    error: str | None = None
    occurred_at: datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)


def record(*, session: Session, report: StatusReport) -> Outcome:
    """Store a report once and apply it if its notification can take it, in the caller's
    transaction. A replayed report is a no-op."""
    if session.scalar(select(DeliveryEvent.id).where(DeliveryEvent.event_key == report.event_key)):
        return "duplicate"
    event = DeliveryEvent(
        event_key=report.event_key,
        provider=report.provider,
        provider_message_id=report.provider_message_id,
        status=report.status,
        state=report.state,
        error=report.error,
        occurred_at=report.occurred_at,
        payload=report.payload,
    )
    try:
        with session.begin_nested():  # the same report arriving twice at once
            session.add(event)
    except IntegrityError:
        return "duplicate"
    row = _find(session, report)
    if row is None:
        return "waiting"
    event.notification_id = row.id
    if report.state is None:
        event.applied = True
        return "ignored"
    if row.state is S.SENDING:
        return "waiting"  # the dispatcher applies it after recording the send
    _apply(row, event)
    return "applied"


def apply_waiting(*, session: Session, notifications: list[Notification]) -> int:
    """Apply reports that arrived before these sends were recorded; returns how many."""
    if not notifications:
        return 0
    by_id = {n.id: n for n in notifications}
    by_message = {n.provider_message_id: n for n in notifications if n.provider_message_id}
    conditions = [DeliveryEvent.notification_id.in_(by_id)]
    if by_message:
        conditions.append(DeliveryEvent.provider_message_id.in_(by_message))
    events = session.scalars(
        select(DeliveryEvent)
        .where(or_(*conditions), DeliveryEvent.applied.is_(False))
        .order_by(DeliveryEvent.id)
    ).all()
    for event in events:
        row = by_message.get(event.provider_message_id) or by_id.get(event.notification_id or 0)
        if row is None:
            continue
        event.notification_id = row.id
        if event.state is None:
            event.applied = True
        else:
            _apply(row, event)
    return len(events)


def _find(session: Session, report: StatusReport) -> Notification | None:
    row = session.scalar(
        select(Notification).where(Notification.provider_message_id == report.provider_message_id)
    )
    if row is None and report.notification_hint is not None:
        hinted = session.get(Notification, report.notification_hint)
        # A hint names the notification; trust it only if it is not tied to another send.
        if hinted is not None and hinted.provider_message_id in (None, report.provider_message_id):
            row = hinted
    return row


def _apply(row: Notification, event: DeliveryEvent) -> None:
    event.applied = True
    new = event.state
    assert new is not None  # noqa: S101 - callers skip reports without a state
    confirmed_after_crash = row.state is S.DEAD and row.hold_reason == POSSIBLY_SENT
    if confirmed_after_crash:
        row.hold_reason = CONFIRMED
    elif _RANK.get(new, 0) <= _RANK.get(row.state, 0) or row.state not in _RANK:
        return  # older news, or a row the dispatcher no longer owns as sent
    row.state = new
    row.provider_message_id = row.provider_message_id or event.provider_message_id
    if row.sent_at is None:
        row.sent_at = event.occurred_at or utcnow()
    if new in (S.DELIVERED, S.READ) and row.delivered_at is None:
        row.delivered_at = event.occurred_at or utcnow()
    if new is S.FAILED:
        row.last_error = f"{event.provider} reported {event.status}: {event.error or 'no detail'}"
