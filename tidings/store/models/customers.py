"""Brands as rows, customers, and their per-channel consent."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tidings.store.base import Base, BigIntId, IdMixin, TimestampMixin, utcnow
from tidings.store.enums import ChannelKind, str_enum

if TYPE_CHECKING:
    from tidings.store.models.orders import Order


class BrandRow(IdMixin, TimestampMixin, Base):
    """A brand mirrored from the brands file so rows can reference it."""

    __tablename__ = "brands"

    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    default_language: Mapped[str] = mapped_column(String(8))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="the brand's validated config")


class Customer(IdMixin, TimestampMixin, Base):
    """A shopper of one brand."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("brand_id", "email"),)

    brand_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("brands.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True, doc="E.164")
    language: Mapped[str] = mapped_column(String(8), default="en")
    time_zone: Mapped[str] = mapped_column(String(64), default="Asia/Kolkata")
    country: Mapped[str | None] = mapped_column(String(2))
    channel_order: Mapped[list[str]] = mapped_column(
        default=lambda: ["email"], doc="preferred channels, first is tried first"
    )
    last_inbound_whatsapp_at: Mapped[datetime | None] = mapped_column(
        default=None, doc="opens WhatsApp's 24-hour customer service window"
    )

    consents: Mapped[list[CustomerConsent]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )
    orders: Mapped[list[Order]] = relationship(back_populates="customer")


class CustomerConsent(IdMixin, Base):
    """Opt-in or opt-out of one customer for one channel, with where it came from."""

    __tablename__ = "customer_consents"
    __table_args__ = (UniqueConstraint("customer_id", "channel"),)

    customer_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("customers.id", ondelete="CASCADE")
    )
    channel: Mapped[ChannelKind] = mapped_column(str_enum(ChannelKind))
    opted_in: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(64), doc="checkout, STOP reply, unsubscribe link...")
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="consents")
