"""Inbound emails: raw bytes stored once, then worked through the pipeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tidings.store.base import Base, BigIntId, IdMixin, TimestampMixin, WorkItemMixin, utcnow
from tidings.store.enums import EmailState, str_enum


class InboundEmail(IdMixin, TimestampMixin, WorkItemMixin, Base):
    """One received email. ``dedupe_key`` is the Message-ID, or a content hash when it is missing
    or reused, so (mailbox, dedupe_key) is unique: the same email is never stored twice."""

    __tablename__ = "inbound_emails"
    __table_args__ = (
        UniqueConstraint("mailbox", "dedupe_key"),
        Index("ix_inbound_emails_work", "state", "next_attempt_at"),
    )

    mailbox: Mapped[str] = mapped_column(String(100))
    brand_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("brands.id"), index=True)
    message_id: Mapped[str | None] = mapped_column(String(998), doc="as in the header, without <>")
    dedupe_key: Mapped[str] = mapped_column(String(512))
    content_hash: Mapped[str] = mapped_column(String(64), doc="sha256 hex of the raw bytes")
    imap_uid: Mapped[int | None] = mapped_column(BigInteger)
    imap_uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    raw: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # megabytes: loaded on use
    size_bytes: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[EmailState] = mapped_column(str_enum(EmailState), default=EmailState.RECEIVED)
    parsed: Mapped[dict[str, Any] | None] = mapped_column(default=None, doc="ParsedEmail as JSON")
    language: Mapped[str | None] = mapped_column(String(8))
    sender_kind: Mapped[str | None] = mapped_column(String(16))
    medium: Mapped[str] = mapped_column(
        String(16),
        default="email",
        server_default="email",
        doc="email, or whatsapp/sms for a chat message (raw is then the provider's JSON)",
    )
