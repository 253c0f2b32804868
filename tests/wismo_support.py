"""Helpers for the proactive WISMO tests: parcels in every state, a scanner on a fixed clock,
signed aggregator payloads, and the outbox rows a scan wrote."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.config import BrandsFile
from tidings.config.settings import WismoSettings
from tidings.store.db import SessionFactory
from tidings.store.enums import ChannelKind, LineStatus, OrderStatus, ShipmentStatus
from tidings.store.models import (
    BrandRow,
    Customer,
    CustomerConsent,
    Notification,
    Order,
    OrderLine,
    Shipment,
    WismoEpisode,
)
from tidings.wismo.scan import Scanner

# A Wednesday: 12:00 in India, 14:30 in Kuala Lumpur, 06:30 in London.
NOON_IST = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)
_numbers = itertools.count(1)


def parcel(
    session: Session,
    brand: BrandRow,
    *,
    now: datetime = NOON_IST,
    status: ShipmentStatus = ShipmentStatus.IN_TRANSIT,
    promised: date | None = None,
    eta: date | None = None,
    last_scan: datetime | None = None,
    time_zone: str = "Asia/Kolkata",
    language: str = "en",
    carrier: str = "delhivery",
    order_status: OrderStatus = OrderStatus.SHIPPED,
    channels: tuple[str, ...] = ("email",),
    opted_in: tuple[ChannelKind, ...] = (ChannelKind.EMAIL,),
    backordered: bool = False,
    customer: Customer | None = None,
) -> Shipment:
    """A shipped order with one parcel, of ``customer`` or of a new one; on time unless told
    otherwise."""
    n = next(_numbers)
    today = now.date()
    if customer is None:
        customer = Customer(
            brand_id=brand.id,
            name=f"Customer {n}",
            email=f"wismo{n}@example.com",
            phone=f"+9197{n:08d}",
            language=language,
            time_zone=time_zone,
            country="IN",
            channel_order=list(channels),
        )
        for kind in opted_in:
            customer.consents.append(
                CustomerConsent(channel=kind, opted_in=True, source="checkout")
            )
    lines = [OrderLine(sku="KAP-KRT-014", name="Kurta", quantity=1, unit_price_minor=149900)]
    if backordered:
        lines.append(
            OrderLine(
                sku="KAP-SAR-047",
                name="Saree",
                quantity=1,
                unit_price_minor=219900,
                status=LineStatus.BACKORDERED,
            )
        )
    order = Order(
        number=f"KAP-{800000 + n}" if brand.slug == "kapas" else f"{brand.slug.upper()}-{n}",
        brand_id=brand.id,
        customer=customer,
        status=order_status,
        currency="INR",
        total_minor=149900,
        placed_at=now - timedelta(days=4),
        shipping_address={"lines": ["12 MG Road"], "city": "Bengaluru", "country": "IN"},
        promised_date=promised or today + timedelta(days=3),
        lines=lines,
    )
    shipment = Shipment(
        carrier=carrier,
        tracking_number=f"WT{n:011d}",
        status=status,
        skus=["KAP-KRT-014"],
        shipped_at=now - timedelta(days=3),
        promised_date=promised or today + timedelta(days=3),
        eta=eta,
        last_scan_at=last_scan or now - timedelta(hours=3),
    )
    order.shipments.append(shipment)
    session.add(order)
    session.flush()
    return shipment


def scanner(
    sessions: SessionFactory,
    brands: BrandsFile,
    at: datetime | Callable[[], datetime] = NOON_IST,
    **settings: Any,
) -> Scanner:
    """A scanner whose clock reads ``at``."""
    clock = at if callable(at) else (lambda: at)
    return Scanner(
        sessions=sessions, brands=brands, settings=WismoSettings(**settings), clock=clock
    )


def queued(sessions: SessionFactory) -> list[Notification]:
    """Every outbox row, oldest first."""
    with sessions() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def episodes(sessions: SessionFactory) -> list[WismoEpisode]:
    """Every delay episode, oldest first."""
    with sessions() as session:
        return list(session.scalars(select(WismoEpisode).order_by(WismoEpisode.id)))


def aftership_body(
    tracking: str,
    *,
    tag: str,
    subtag: str | None = None,
    at: datetime = NOON_IST,
    event_id: str = "evt-1",
    courier_eta: str | None = None,
    predicted_eta: str | None = None,
    slug: str = "delhivery",
) -> bytes:
    """An AfterShip ``tracking_update`` webhook as AfterShip sends it."""
    checkpoint = {
        "checkpoint_time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "created_at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tag": tag,
        "subtag": subtag or f"{tag}_001",
        "message": f"{tag} scan",
        "location": "Bengaluru hub",
    }
    msg: dict[str, Any] = {
        "id": "a1b2c3",
        "tracking_number": tracking,
        "slug": slug,
        "tag": tag,
        "subtag": subtag or f"{tag}_001",
        "checkpoints": [checkpoint],
        "customer_name": "Customer with a name AfterShip sends",
    }
    if courier_eta:
        msg["courier_estimated_delivery_date"] = {"estimated_delivery_date": courier_eta}
    if predicted_eta:
        msg["aftership_estimated_delivery_date"] = {"estimated_delivery_date": predicted_eta}
    document = {
        "event": "tracking_update",
        "event_id": event_id,
        "is_tracking_first_tag": True,
        "msg": msg,
        "ts": int(at.timestamp()),
    }
    return json.dumps(document).encode()


def easypost_body(
    tracking: str,
    *,
    status: str,
    detail: str = "status_update",
    at: datetime = NOON_IST,
    event_id: str = "evt_1",
    est_delivery: str | None = None,
    description: str = "tracker.updated",
) -> bytes:
    """An EasyPost ``tracker.updated`` Event as EasyPost sends it."""
    moment = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    tracker = {
        "id": "trk_1",
        "object": "Tracker",
        "mode": "test",
        "tracking_code": tracking,
        "carrier": "Delhivery",
        "status": status,
        "status_detail": detail,
        "est_delivery_date": est_delivery,
        "updated_at": moment,
        "tracking_details": [
            {
                "object": "TrackingDetail",
                "message": f"{status} scan",
                "status": status,
                "status_detail": detail,
                "datetime": moment,
                "tracking_location": {"city": "Bengaluru", "state": "KA", "country": "IN"},
            }
        ],
    }
    document = {
        "object": "Event",
        "id": event_id,
        "description": description,
        "mode": "test",
        "created_at": moment,
        "result": tracker,
        "previous_attributes": {"status": "in_transit"},
    }
    return json.dumps(document).encode()
