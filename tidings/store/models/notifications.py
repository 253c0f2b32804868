"""The outbox: every customer message, written in the same transaction as its cause."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.store.base import Base, BigIntId, IdMixin, TimestampMixin, WorkItemMixin
from tidings.store.enums import ChannelKind, NotificationState, str_enum


class Notification(IdMixin, TimestampMixin, WorkItemMixin, Base):
    """One message to one customer on one channel. The idempotency key is (brand, order, event,
    episode), unique, so a replayed cause cannot enqueue the message twice."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_work", "state", "next_attempt_at"),)

    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    brand_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("brands.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("customers.id"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("orders.id"))
    case_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("cases.id"))
    # No foreign key: the WISMO scan queues tens of thousands of these in one statement, and
    # episodes are never deleted (see models/wismo.py).
    wismo_episode_id: Mapped[int | None] = mapped_column(
        BigIntId, index=True, doc="the delay episode this notice tells (proactive WISMO)"
    )
    event: Mapped[str] = mapped_column(String(64))
    proactive: Mapped[bool | None] = mapped_column(
        default=None,
        doc="true: we speak first (quiet hours and the weekly cap apply); false: an answer to "
        "the customer's own message; null: decided by the event",
    )
    channel: Mapped[ChannelKind] = mapped_column(str_enum(ChannelKind))
    language: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(320))
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="what the template gets")
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text, doc="rendered at send time, kept for audit")
    template_version_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("template_versions.id")
    )
    state: Mapped[NotificationState] = mapped_column(
        str_enum(NotificationState), default=NotificationState.PENDING
    )
    hold_reason: Mapped[str | None] = mapped_column(String(200), doc="why held or dropped")
    provider_message_id: Mapped[str | None] = mapped_column(String(200), index=True)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
