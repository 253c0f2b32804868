"""The built-in order store's tables: orders, their lines, shipments and tracking events."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tidings.store.base import Base, BigIntId, IdMixin, TimestampMixin
from tidings.store.enums import LineStatus, OrderStatus, ShipmentStatus, str_enum
from tidings.store.models.customers import BrandRow, Customer


class Order(IdMixin, TimestampMixin, Base):
    """A customer's order. ``version`` guards against lost concurrent updates."""

    __tablename__ = "orders"

    number: Mapped[str] = mapped_column(String(64), unique=True, doc="as customers write it")
    brand_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("brands.id"), index=True)
    customer_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("customers.id"), index=True)
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(Integer, doc="in minor units (paise, sen)")
    placed_at: Mapped[datetime]
    shipping_address: Mapped[dict[str, Any]] = mapped_column(doc="an Address, as JSON")
    promised_date: Mapped[date | None] = mapped_column(Date)
    delivery_date: Mapped[date | None] = mapped_column(Date, doc="a date the customer asked for")
    delivery_slot: Mapped[str | None] = mapped_column(String(64))
    cancelled_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declared form

    brand: Mapped[BrandRow] = relationship()
    customer: Mapped[Customer] = relationship(back_populates="orders")
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )
    shipments: Mapped[list[Shipment]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Shipment.id"
    )


# Lines waiting for a supplier: the WISMO scan's backorders, a handful among millions of lines.
LINE_BACKORDERED = text("status = 'backordered'")


class OrderLine(IdMixin, Base):
    """One product in an order."""

    __tablename__ = "order_lines"
    __table_args__ = (
        Index(
            "ix_order_lines_backordered",
            "order_id",
            postgresql_where=LINE_BACKORDERED,
            sqlite_where=LINE_BACKORDERED,
        ),
    )

    order_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(Integer)
    status: Mapped[LineStatus] = mapped_column(str_enum(LineStatus), default=LineStatus.OPEN)

    order: Mapped[Order] = relationship(back_populates="lines")


# Parcels still on their way: what the WISMO scan reads. Delivered ones pile up over the years;
# this index keeps the scan's cost with the parcels in flight.
SHIPMENT_IN_FLIGHT = text("status NOT IN ('delivered', 'returned')")


class Shipment(IdMixin, TimestampMixin, Base):
    """A parcel carrying some or all of an order's lines."""

    __tablename__ = "shipments"
    __table_args__ = (
        UniqueConstraint("carrier", "tracking_number"),
        Index(
            "ix_shipments_in_flight",
            "order_id",
            postgresql_where=SHIPMENT_IN_FLIGHT,
            sqlite_where=SHIPMENT_IN_FLIGHT,
        ),
    )

    order_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    carrier: Mapped[str] = mapped_column(String(40))
    tracking_number: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[ShipmentStatus] = mapped_column(str_enum(ShipmentStatus), index=True)
    skus: Mapped[list[str]] = mapped_column(default=list, doc="the lines in this parcel")
    shipped_at: Mapped[datetime | None]
    promised_date: Mapped[date | None] = mapped_column(Date)
    eta: Mapped[date | None] = mapped_column(Date)
    delivered_at: Mapped[datetime | None]
    predicted_eta: Mapped[date | None] = mapped_column(
        Date, doc="an aggregator's predicted delivery date (AfterShip's AI estimate)"
    )
    last_scan_at: Mapped[datetime | None] = mapped_column(
        doc="the carrier's newest scan: no scan for too long is a delay"
    )
    tracking_updated_at: Mapped[datetime | None] = mapped_column(
        doc="when the newest tracking update applied happened: an older one arriving late only "
        "adds to the history"
    )
    delay_reported_at: Mapped[datetime | None] = mapped_column(
        doc="the carrier said it is delayed (an email, an aggregator's delay status) and no "
        "later update said otherwise"
    )

    order: Mapped[Order] = relationship(back_populates="shipments")
    events: Mapped[list[TrackingEvent]] = relationship(
        back_populates="shipment",
        cascade="all, delete-orphan",
        order_by="TrackingEvent.occurred_at",
    )


class TrackingEvent(IdMixin, Base):
    """One carrier scan. Unique per (shipment, time, code) so re-ingesting a feed is harmless."""

    __tablename__ = "tracking_events"
    __table_args__ = (UniqueConstraint("shipment_id", "occurred_at", "code"),)

    shipment_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("shipments.id", ondelete="CASCADE")
    )
    occurred_at: Mapped[datetime]
    code: Mapped[str] = mapped_column(String(32), doc="the carrier's own code")
    status: Mapped[ShipmentStatus] = mapped_column(str_enum(ShipmentStatus))
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(
        String(16), default="carrier", server_default="carrier", doc="carrier, aftership, ..."
    )

    shipment: Mapped[Shipment] = relationship(back_populates="events")


class PurchaseOrder(IdMixin, TimestampMixin, Base):
    """A brand's order to a supplier: supplier mail names it ("PO SB-PO-1187"), and its SKUs lead
    to the customer orders waiting for that stock."""

    __tablename__ = "purchase_orders"

    number: Mapped[str] = mapped_column(String(64), unique=True)
    brand_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("brands.id"), index=True)
    supplier: Mapped[str] = mapped_column(String(200))
    skus: Mapped[list[str]] = mapped_column(default=list)
    expected_date: Mapped[date | None] = mapped_column(Date)

    brand: Mapped[BrandRow] = relationship()
