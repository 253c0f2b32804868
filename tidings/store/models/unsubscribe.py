"""Unsubscribe tokens: the random, opaque part of an unsubscribe link."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.store.base import Base, BigIntId, IdMixin, utcnow
from tidings.store.enums import ChannelKind, str_enum


class UnsubscribeToken(IdMixin, Base):
    """One customer's token for one channel, made the first time a link is needed.

    Random rather than derived from the customer id: a link says nothing about who it is for,
    and nobody can make one without the database, whatever key the web app runs with.
    """

    __tablename__ = "unsubscribe_tokens"
    __table_args__ = (UniqueConstraint("customer_id", "channel"),)

    token: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("customers.id", ondelete="CASCADE")
    )
    channel: Mapped[ChannelKind] = mapped_column(str_enum(ChannelKind))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
