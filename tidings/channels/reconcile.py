"""Settle "possibly sent" rows by asking the provider whether the message exists.

A send that failed after the provider may have taken it (a crash mid-send, a 500, a read
timeout) leaves a row ``dead`` as possibly sent: resending blindly could reach the customer
twice. Where the provider can list what it sent, this pass asks, once the dust has settled:
- exactly one message to that recipient from our sender has our text, and no other row holds
  its id: the row is ``sent`` with that id;
- nothing at all went to that recipient from our sender since the row was created, and the
  list is complete: it was never sent, and the row goes back to ``pending`` to be sent once
  (up to the dispatcher's attempt limit, then ``dead`` as never sent);
- anything else (other messages in the window, several matches, a list cut short, a failed
  lookup): the row stays for an operator, and is asked again after the settling time.
The provider call runs outside any transaction; the verdict is applied only if the row has not
changed meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.channels.base import Channel, OutboundMessage
from tidings.channels.compose import Links, message_from_row
from tidings.channels.outbox import POSSIBLY_SENT
from tidings.channels.status import apply_waiting
from tidings.config.brands import BrandsFile
from tidings.logs import get_logger
from tidings.store.base import utcnow
from tidings.store.brands import brand_slug
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind, NotificationState
from tidings.store.models import Notification

log = get_logger(__name__)
S = NotificationState
SETTLE = timedelta(minutes=5)  # a provider's list catches up with its sends well within this
NOT_FOUND = "not found at the provider after a failed send; sent again"


@dataclass(frozen=True)
class Lookup:
    """What a provider lists for one recipient and sender since a time: the ids of messages
    with our text, how many others, and whether the list is complete (not cut at a limit)."""

    matches: list[str] = field(default_factory=list)
    others: int = 0
    complete: bool = True


@runtime_checkable
class SentLookup(Protocol):
    """A channel that can tell whether it sent a message."""

    def find_sent(self, message: OutboundMessage, *, since: datetime) -> Lookup:
        """List what went to ``message``'s recipient from its sender since ``since``; raise
        ``ChannelError`` when the provider cannot be asked."""
        ...


@dataclass
class ReconcileReport:
    """Rows looked at, by outcome: found (now sent), resent (back to pending), never_sent (dead
    after the last attempt), unsure, error, changed (settled meanwhile)."""

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
    max_attempts: int = 6,
    budget: timedelta = timedelta(seconds=30),
    limit: int = 100,
) -> ReconcileReport:
    """Ask the providers about possibly-sent rows untouched for ``settle``, the longest waiting
    first, for at most ``budget`` of wall time."""
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
            .order_by(Notification.updated_at, Notification.id)
            .limit(limit)
        ).all()
    deadline = time.monotonic() + budget.total_seconds()
    context = _Context(session_factory, brands, channels, links or Links(), now, max_attempts)
    for row_id in ids:
        if time.monotonic() > deadline:
            break
        report.add(_settle(context, row_id))
    return report


@dataclass(frozen=True)
class _Context:
    sessions: SessionFactory
    brands: BrandsFile
    channels: Mapping[ChannelKind, Channel]
    links: Links
    now: datetime
    max_attempts: int


def _settle(context: _Context, row_id: int) -> str:
    asked = _ask(context, row_id)
    if isinstance(asked, str):
        return asked
    seen_at, lookup = asked
    with transaction(context.sessions) as session:
        row = session.get(Notification, row_id, with_for_update=True)
        if row is None or row.updated_at != seen_at or row.hold_reason != POSSIBLY_SENT:
            return "changed"  # a provider report, an operator or another dispatcher came first
        verdict, sid = _verdict(session, row, lookup)
        if verdict == "found":
            row.state, row.hold_reason, row.last_error = S.SENT, None, None
            row.provider_message_id = sid
            row.sent_at = row.sent_at or context.now
            apply_waiting(session=session, notifications=[row])
        elif verdict == "resent" and row.attempts >= context.max_attempts:
            verdict = "never_sent"
            row.hold_reason = None
            row.last_error = f"{NOT_FOUND}; gave up after {row.attempts} attempts"[:4000]
        elif verdict == "resent":
            row.state, row.hold_reason, row.next_attempt_at = S.PENDING, NOT_FOUND, context.now
        else:
            row.updated_at = context.now  # ask again after the settling time, behind the others
        return verdict


def _ask(context: _Context, row_id: int) -> tuple[datetime, Lookup] | str:
    """The provider's list for the row, asked outside any transaction; or why not."""
    with context.sessions() as session:
        row = session.get(Notification, row_id)
        if row is None or row.state is not S.DEAD or row.hold_reason != POSSIBLY_SENT:
            return "changed"
        channel = context.channels.get(row.channel)
        if not isinstance(channel, SentLookup):
            return "unsure"
        brand = context.brands.get(brand_slug(session, row.brand_id) or "?")
        message = message_from_row(row, brand, links=context.links)
        seen_at, since = row.updated_at, row.created_at - timedelta(minutes=1)
    try:
        return seen_at, channel.find_sent(message, since=since)
    except Exception as exc:  # a failed lookup, or an SDK's surprise: ask again later
        # The type only: a provider's text can quote the recipient.
        log.warning("possibly-sent lookup failed", notification_id=row_id, error=type(exc).__name__)
        with transaction(context.sessions) as session:
            touched = session.get(Notification, row_id)
            if touched is not None and touched.updated_at == seen_at:
                touched.updated_at = context.now
        return "error"


def _verdict(session: Session, row: Notification, lookup: Lookup) -> tuple[str, str | None]:
    """found (with the SID), resent or unsure: see the module's docstring."""
    if not lookup.matches:
        nothing_went = lookup.others == 0 and lookup.complete
        return ("resent" if nothing_went else "unsure"), None
    claimed = set(
        session.scalars(
            select(Notification.provider_message_id).where(
                Notification.provider_message_id.in_(lookup.matches), Notification.id != row.id
            )
        )
    )
    free = [sid for sid in lookup.matches if sid not in claimed]
    return ("found", free[0]) if len(free) == 1 else ("unsure", None)
