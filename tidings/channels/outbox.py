"""The outbox: notifications written in the same transaction as the event that causes them.

``enqueue`` adds a ``pending`` row whose idempotency key is (brand, order, event, episode); the
same cause replayed finds the row already there and changes nothing. The dispatcher sends
pending rows later; ``replay`` puts dead letters back in the queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.channels.policy import recipient_for
from tidings.errors import ConfigError
from tidings.store.enums import ChannelKind, NotificationState
from tidings.store.models import BrandRow, Customer, Notification, Order

POSSIBLY_SENT = "possibly sent; not resent automatically"
# Rows an operator may send again by id; ``--all-dead`` takes only dead ones.
REPLAYABLE = (NotificationState.DEAD, NotificationState.FAILED, NotificationState.DROPPED)


def idempotency_key(brand: str, order: str | None, event: str, episode: str) -> str:
    """The key that makes one cause produce one message: brand/order/event/episode."""
    key = f"{brand}/{order or '-'}/{event}/{episode}"
    if len(key) > 200:
        raise ConfigError(f"idempotency key too long ({len(key)} > 200): shorten the episode")
    return key


def enqueue(
    *,
    session: Session,
    brand: BrandRow,
    event: str,
    episode: str,
    variables: dict[str, Any],
    customer: Customer | None = None,
    order: Order | None = None,
    order_number: str | None = None,
    case_id: int | None = None,
    channel: ChannelKind | None = None,
    recipient: str | None = None,
    language: str | None = None,
    proactive: bool | None = None,
    wismo_episode_id: int | None = None,
) -> Notification:
    """Add a notification in the caller's transaction, or return the one with the same key.

    ``episode`` tells repeats of one event apart (the new ETA of a second delay, a reply's
    message id). ``order_number`` names an order the local store does not hold (an external
    order API). The channel defaults to the customer's first preference; the dispatcher may
    still fall back to another one at send time.
    """
    number = order.number if order is not None else order_number
    key = idempotency_key(brand.slug, number, event, episode)
    existing = _by_key(session, key)
    if existing is not None:
        return existing
    kind = channel or _first_channel(customer)
    if recipient is None:
        if customer is None:
            raise ConfigError("enqueue needs a customer or an explicit recipient")
        recipient = recipient_for(customer, kind)
    row = Notification(
        idempotency_key=key,
        brand_id=brand.id,
        customer_id=customer.id if customer else None,
        order_id=order.id if order else None,
        case_id=case_id,
        event=event,
        channel=kind,
        language=language or (customer.language if customer else brand.default_language),
        recipient=recipient,
        variables=variables,
        proactive=proactive,
        wismo_episode_id=wismo_episode_id,
        state=NotificationState.PENDING,
    )
    try:
        with session.begin_nested():  # a concurrent enqueue of the same key may win the race
            session.add(row)
    except IntegrityError:
        winner = _by_key(session, key)
        if winner is None:
            raise
        return winner
    return row


@dataclass(frozen=True)
class Outgoing:
    """One message for ``enqueue_many``, already addressed by the caller."""

    brand_id: int
    brand_slug: str
    order_id: int | None
    order_number: str | None
    customer_id: int | None
    event: str
    episode: str
    channel: ChannelKind
    language: str
    recipient: str
    variables: dict[str, Any]
    proactive: bool | None = None
    case_id: int | None = None
    wismo_episode_id: int | None = None

    @property
    def key(self) -> str:
        """Its idempotency key."""
        return idempotency_key(self.brand_slug, self.order_number, self.event, self.episode)


def enqueue_many(*, session: Session, rows: Sequence[Outgoing], now: datetime) -> int:
    """Add many pending notifications in the caller's transaction; a row whose key is already
    queued is skipped. Returns how many were added.

    PostgreSQL gets one INSERT ... SELECT FROM jsonb_to_recordset(one JSON array of the rows):
    one parameter however many rows, where a multi-row VALUES sends sixteen per row and the
    driver's time goes into parsing and quoting them. SQLite gets SQLAlchemy's batched VALUES.
    """
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        records = [
            {"key": row.key, **{name: getattr(row, name) for name in _FIELDS}} for row in rows
        ]
        found = session.execute(_RECORDSET_INSERT, {"rows": Jsonb(records), "now": now})
        return len(found.all())
    statement = (
        sqlite.insert(Notification)
        .on_conflict_do_nothing(index_elements=[Notification.idempotency_key])
        .returning(Notification.idempotency_key)
    )
    values = [
        {
            "idempotency_key": row.key,
            **{name: getattr(row, name) for name in _FIELDS},
            "state": NotificationState.PENDING,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for row in rows
    ]
    return len(session.execute(statement, values).all())


# The Outgoing fields enqueue_many writes as they are (the key is computed).
_FIELDS = (
    *("brand_id", "customer_id", "order_id", "case_id", "wismo_episode_id"),
    *("event", "channel", "language", "recipient", "variables", "proactive"),
)
_RECORDSET_INSERT = text(
    """
    INSERT INTO notifications (idempotency_key, brand_id, customer_id, order_id, case_id,
        wismo_episode_id, event, channel, language, recipient, variables, proactive,
        state, attempts, created_at, updated_at)
    SELECT r.key, r.brand_id, r.customer_id, r.order_id, r.case_id, r.wismo_episode_id,
        r.event, r.channel, r.language, r.recipient, r.variables, r.proactive,
        'pending', 0, :now, :now
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(key varchar, brand_id bigint,
        customer_id bigint, order_id bigint, case_id bigint, wismo_episode_id bigint,
        event varchar, channel varchar, language varchar, recipient varchar, variables jsonb,
        proactive boolean)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING idempotency_key
    """
)


def _by_key(session: Session, key: str) -> Notification | None:
    return session.scalar(select(Notification).where(Notification.idempotency_key == key))


def _first_channel(customer: Customer | None) -> ChannelKind:
    known = {kind.value: kind for kind in ChannelKind}
    order = customer.channel_order if customer else []
    return next((known[name] for name in order if name in known), ChannelKind.EMAIL)


def list_notifications(
    *, session: Session, states: Sequence[NotificationState] = (), limit: int = 50
) -> list[Notification]:
    """The newest notifications, optionally only in some states."""
    query = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if states:
        query = query.where(Notification.state.in_(list(states)))
    return list(session.scalars(query))


@dataclass
class ReplayReport:
    """Which rows went back to the queue and which were left, with why."""

    requeued: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``."""
        return {
            "requeued": len(self.requeued),
            "skipped": len(self.skipped),
            "ids": self.requeued,
            "skipped_ids": {str(k): v for k, v in self.skipped.items()},
        }


def replay(
    *,
    session: Session,
    ids: Sequence[int] = (),
    all_dead: bool = False,
    include_possibly_sent: bool = False,
) -> ReplayReport:
    """Put dead letters back to ``pending`` with a fresh attempt count, in the caller's
    transaction. Rows that were possibly sent already are only taken by id or with
    ``include_possibly_sent``: resending them may deliver a second copy."""
    report = ReplayReport()
    rows: list[Notification] = []
    if ids:
        found = {
            r.id: r for r in session.scalars(select(Notification).where(Notification.id.in_(ids)))
        }
        for row_id in ids:
            row = found.get(row_id)
            if row is None:
                report.skipped[row_id] = "no such notification"
            elif row.state not in REPLAYABLE:
                report.skipped[row_id] = (
                    f"state is {row.state.value}; only dead, failed or dropped replay"
                )
            else:
                rows.append(row)
    if all_dead:
        dead = session.scalars(
            select(Notification)
            .where(Notification.state == NotificationState.DEAD)
            .order_by(Notification.id)
        )
        for row in dead:
            if row.hold_reason == POSSIBLY_SENT and not include_possibly_sent:
                report.skipped[row.id] = POSSIBLY_SENT
            elif row not in rows:
                rows.append(row)
    for row in rows:
        _requeue(row)
        report.requeued.append(row.id)
    session.flush()
    return report


def _requeue(row: Notification) -> None:
    row.state = NotificationState.PENDING
    row.attempts = 0
    row.next_attempt_at = None
    row.lease_owner = None
    row.lease_expires_at = None
    row.hold_reason = None
    row.last_error = None
    row.provider_message_id = None
