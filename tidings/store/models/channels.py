"""Channel tables: the WhatsApp template registry and the delivery events providers report."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.store.base import Base, BigIntId, IdMixin, TimestampMixin, utcnow
from tidings.store.enums import NotificationState, str_enum


class WhatsAppApproval(StrEnum):
    """Where a WhatsApp template is in Meta's review, as the Twilio Content API reports it."""

    UNSUBMITTED = "unsubmitted"
    RECEIVED = "received"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAUSED = "paused"
    DISABLED = "disabled"
    UNKNOWN = "unknown"


class WhatsAppTemplate(IdMixin, TimestampMixin, Base):
    """One WhatsApp template of one brand for one event and language, mirrored in Twilio.

    ``body`` is in Twilio's form (``{{1}}``, ``{{2}}``); ``variables[i]`` is the dotted path of
    the notification variable that fills ``{{i+1}}``, e.g. ``order.number``.
    """

    __tablename__ = "whatsapp_templates"
    __table_args__ = (UniqueConstraint("brand_id", "event", "language"),)

    brand_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("brands.id"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    friendly_name: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(Text)
    variables: Mapped[list[str]] = mapped_column(default=list)
    category: Mapped[str] = mapped_column(String(32), default="UTILITY")
    content_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    approval_status: Mapped[WhatsAppApproval] = mapped_column(
        str_enum(WhatsAppApproval), default=WhatsAppApproval.UNSUBMITTED
    )
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[datetime | None]


class DeliveryEvent(IdMixin, Base):
    """One delivery-status report from a provider (Twilio status callback, SendGrid event).

    Kept even when no notification matches yet: a callback can arrive before the send's own
    commit, and is applied when the row gets its provider message id.
    """

    __tablename__ = "delivery_events"

    event_key: Mapped[str] = mapped_column(String(200), unique=True, doc="replays are no-ops")
    provider: Mapped[str] = mapped_column(String(32))
    provider_message_id: Mapped[str] = mapped_column(String(200), index=True)
    notification_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(32), doc="the provider's own word")
    state: Mapped[NotificationState | None] = mapped_column(str_enum(NotificationState))
    error: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
