"""Settle "possibly sent" rows by asking the provider whether the message exists.

A send that failed after the provider may have taken it (a crash mid-send, a 500, a read
timeout) leaves a row ``dead`` as possibly sent: resending blindly could reach the customer
twice. Where the provider can list what it sent, this pass asks, once the dust has settled:
- the message is there: the row is ``sent``, with the provider's message id;
- nothing went to that recipient from our sender since the row was created: it was never sent,
  and the row goes back to ``pending`` to be sent once;
- anything else (a template message whose text cannot be compared, other messages to the same
  recipient, the lookup failing): the row stays for an operator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol, runtime_checkable

from sqlalchemy import select

from tidings.channels.base import Channel, OutboundMessage, SendResult
from tidings.channels.compose import Links, message_from_row
from tidings.channels.outbox import POSSIBLY_SENT
from tidings.channels.status import apply_waiting
from tidings.config.brands import BrandsFile
from tidings.logs import get_logger
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind, NotificationState
from tidings.store.models import BrandRow, Notification

log = get_logger(__name__)
S = NotificationState
SETTLE = timedelta(minutes=5)  # a provider's list catches up with its sends well within this
NOT_FOUND = "not found at the provider after a failed send; sent again"

Verdict = Literal["found", "absent", "unsure"]


@dataclass(frozen=True)
class Lookup:
    """What a provider knows of one message."""

    verdict: Verdict
    result: SendResult | None = None


@runtime_checkable
class SentLookup(Protocol):
    """A channel that can tell whether it sent a message."""

    def find_sent(self, message: OutboundMessage, *, since: datetime) -> Lookup:
        """Look for ``message`` among what was sent since ``since``; raise ``ChannelError`` when
        the provider cannot be asked."""
        ...


@dataclass
class ReconcileReport:
    """Rows looked at, by outcome: found (now sent), resent (back to pending), unsure, error."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        """Count one row."""
        self.counts[outcome] = self.counts.get(outcome, 0) + 1


def reconcile(
    *,
    session_factory: SessionFactory,
    brands: BrandsFile,
    channels: Mapping[ChannelKind, Channel],
    links: Links | None = None,
    now: datetime | None = None,
    settle: timedelta = SETTLE,
    limit: int = 100,
) -> ReconcileReport:
    """Ask the providers about possibly-sent rows older than ``settle``; one transaction per
    row, so a lookup that fails leaves the others settled."""
    report = ReconcileReport()
    now = now or utcnow()
    kinds = [kind for kind, channel in channels.items() if isinstance(channel, SentLookup)]
    if not kinds:
        return report
    with session_factory() as session:
        ids = session.scalars(
            select(Notification.id)
            .where(
                Notification.state == S.DEAD,
                Notification.hold_reason == POSSIBLY_SENT,
                Notification.channel.in_(kinds),
                Notification.updated_at <= now - settle,
            )
            .order_by(Notification.id)
            .limit(limit)
        ).all()
    for row_id in ids:
        report.add(_settle(session_factory, brands, channels, links or Links(), row_id, now))
    return report


def _settle(
    session_factory: SessionFactory,
    brands: BrandsFile,
    channels: Mapping[ChannelKind, Channel],
    links: Links,
    row_id: int,
    now: datetime,
) -> str:
    with transaction(session_factory) as session:
        row = session.get(Notification, row_id, with_for_update=True)
        if row is None or row.state is not S.DEAD or row.hold_reason != POSSIBLY_SENT:
            return "changed"  # settled meanwhile (a provider report, an operator)
        channel = channels.get(row.channel)
        if not isinstance(channel, SentLookup):
            return "unsure"
        slug = session.scalar(select(BrandRow.slug).where(BrandRow.id == row.brand_id)) or "?"
        message = message_from_row(row, brands.get(slug), links=links)
        try:
            found = channel.find_sent(message, since=row.created_at - timedelta(minutes=1))
        except Exception as exc:  # a failed lookup, or an SDK's surprise: ask again later
            # The type only: a provider's text can quote the recipient.
            log.warning(
                "possibly-sent lookup failed", notification_id=row.id, error=type(exc).__name__
            )
            return "error"
        if found.verdict == "found" and found.result is not None:
            row.state, row.hold_reason, row.last_error = S.SENT, None, None
            row.provider_message_id = found.result.provider_message_id
            row.sent_at = row.sent_at or now
            apply_waiting(session=session, notifications=[row])
            return "found"
        if found.verdict == "absent":
            row.state, row.hold_reason, row.next_attempt_at = S.PENDING, NOT_FOUND, now
            return "resent"
        return "unsure"
