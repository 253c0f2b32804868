"""Proactive WISMO: tracking updates received, delay episodes, and scan runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.store.base import Base, BigIntId, IdMixin, utcnow
from tidings.store.enums import Problem, ShipmentStatus, Trigger, str_enum

OPEN_EPISODE = text("closed_at IS NULL")
PENDING_NOTICE = text("pending IS NOT NULL")


class ShipmentUpdate(IdMixin, Base):
    """One tracking update received from an aggregator webhook or read from a carrier's email.

    Unique per (source, event id): a replayed webhook finds its row and changes nothing. Only the
    normalised fields are kept, never the provider's payload (it carries the customer's name,
    address and contacts).
    """

    __tablename__ = "shipment_updates"
    __table_args__ = (UniqueConstraint("source", "event_id"),)

    source: Mapped[str] = mapped_column(String(16), doc="aftership, easypost, email")
    event_id: Mapped[str] = mapped_column(String(100), doc="the provider's event id")
    shipment_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("shipments.id", ondelete="CASCADE"), index=True
    )
    tracking_number: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[ShipmentStatus | None] = mapped_column(
        str_enum(ShipmentStatus), doc="null: the update said nothing of the status"
    )
    code: Mapped[str] = mapped_column(String(32), doc="the provider's own status words")
    outcome: Mapped[str] = mapped_column(
        String(16), doc="applied, older (history only: a newer update is applied), unmatched"
    )
    data: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="the normalised update")


class WismoEpisode(IdMixin, Base):
    """One problem of one parcel (or of an order: a backorder), from detection to its end.

    At most one open episode per (order, shipment, problem): a partial unique index, so two
    scanners, or a scan and a carrier's email, cannot open it twice. ``pending`` is the notice
    the episode owes the customer (the scan writes it and clears it in one transaction); the
    notices it sent are the notifications that name it.
    """

    __tablename__ = "wismo_episodes"
    __table_args__ = (
        Index(
            "uq_wismo_episodes_open",
            "order_id",
            text("coalesce(shipment_id, 0)"),
            "problem",
            unique=True,
            postgresql_where=OPEN_EPISODE,
            sqlite_where=OPEN_EPISODE,
        ),
        Index(
            "ix_wismo_episodes_pending",
            "id",
            postgresql_where=PENDING_NOTICE,
            sqlite_where=PENDING_NOTICE,
        ),
        Index(
            "ix_wismo_episodes_open",
            "shipment_id",
            postgresql_where=OPEN_EPISODE,
            sqlite_where=OPEN_EPISODE,
        ),
    )

    # No foreign keys on these three: the scan inserts tens of thousands of episodes in one
    # statement from the very rows it joined, and a foreign key's check per row would cost it
    # more than the detection itself (1.1 s of 2.5 s at a million parcels). Tidings never
    # deletes orders or parcels; an episode whose order is gone is never joined again.
    brand_id: Mapped[int] = mapped_column(BigIntId)
    order_id: Mapped[int] = mapped_column(BigIntId)
    shipment_id: Mapped[int | None] = mapped_column(BigIntId)
    problem: Mapped[Problem] = mapped_column(str_enum(Problem))
    trigger: Mapped[Trigger] = mapped_column(str_enum(Trigger))
    case_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("cases.id"), doc="the carrier email that reported it, if one did"
    )
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    pending: Mapped[str | None] = mapped_column(
        String(16), doc="the notice owed: open, follow_up or close; null when none"
    )
    follow_ups: Mapped[int] = mapped_column(Integer, default=0, doc="follow-ups owed so far")
    suppressed: Mapped[str | None] = mapped_column(
        String(200), doc="why the last notice owed was not sent (an open case, the brand...)"
    )
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(
        String(16), doc="delivered, back_on_track, returned, cancelled"
    )


class WismoScan(IdMixin, Base):
    """One run of the scan: what it found and what it queued."""

    __tablename__ = "wismo_scans"

    scanner: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    shipments: Mapped[int] = mapped_column(Integer, default=0)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    follow_ups: Mapped[int] = mapped_column(Integer, default=0)
    enqueued: Mapped[int] = mapped_column(Integer, default=0)
    suppressed: Mapped[int] = mapped_column(Integer, default=0)
