"""One model for tracking updates, whatever sends them, and how one changes a parcel.

AfterShip and EasyPost webhooks (``aftership.py``, ``easypost.py``) and the carrier emails the
agent reads all become a ``TrackingUpdate``; ``ingest`` records it once per (source, event id),
adds its scans to the parcel's history and applies it to the parcel, so a shipment has one
history whatever the source. Updates may arrive twice and out of order:
- a replay (same source and event id) changes nothing;
- an update older than the newest one applied only adds to the history;
- a delivered parcel does not go back in transit (only a return may follow a delivery).
Whether the customer hears about it is decided later, by the delay episodes (``scan.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.channels.webhook_payloads import deeper_than
from tidings.metrics import TRACKING_UPDATES
from tidings.store.enums import ShipmentStatus
from tidings.store.models import Shipment, ShipmentUpdate, TrackingEvent

Source = Literal["aftership", "easypost", "email"]
Outcome = Literal["applied", "older", "duplicate", "unmatched"]
FINAL = (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)
# A parcel on its way again, or at its end: a delay the carrier reported is over.
DELAY_OVER = (ShipmentStatus.OUT_FOR_DELIVERY, *FINAL)


class Checkpoint(BaseModel):
    """One carrier scan, as the parcel's history keeps it."""

    occurred_at: AwareDatetime
    status: ShipmentStatus
    code: str = Field(max_length=32, description="the source's own status words")
    description: str = Field(default="", max_length=2000)
    location: str | None = Field(default=None, max_length=200)


class TrackingUpdate(BaseModel):
    """What a tracking source says about one parcel at one moment."""

    source: Source
    event_id: str = Field(min_length=1, max_length=100, description="unique per source")
    tracking_number: str = Field(min_length=1, max_length=64)
    carrier: str | None = Field(default=None, max_length=40, description="our carrier code")
    occurred_at: AwareDatetime
    status: ShipmentStatus | None = Field(description="None: no news about the status")
    code: str = Field(max_length=32)
    eta: date | None = Field(default=None, description="the carrier's expected delivery date")
    predicted_eta: date | None = Field(default=None, description="an aggregator's prediction")
    delay: bool = Field(default=False, description="the carrier says the parcel is delayed")
    checkpoints: list[Checkpoint] = Field(default_factory=list, max_length=500)


@dataclass(frozen=True)
class Ingested:
    """What became of an update, and the parcel it is about."""

    outcome: Outcome
    shipment_id: int | None = None


class Payload(BaseModel):
    """A provider's payload: the fields we read, typed and bounded; the rest ignored."""

    model_config = ConfigDict(extra="ignore")


P = TypeVar("P", bound=Payload)
MAX_DEPTH = 8  # a tracking's JSON nests four or five levels; anything deeper is not one


def load_payload(body: bytes, what: str) -> object:
    """A verified body as JSON; ``ValueError`` (naming ``what``) for anything else."""
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise ValueError(f"the {what} body is not JSON") from exc
    if deeper_than(document, MAX_DEPTH):
        raise ValueError(f"the {what} nests deeper than a tracking does")
    return document


def validated(model: type[P], data: object, what: str) -> P:
    """``data`` as ``model``; ``ValueError`` naming the first field that is wrong (never the
    value, which may be a customer's address)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"not {what}: {where}: {first['msg']}") from exc


def normalise_tracking(number: str) -> str:
    """Tracking numbers as the store keeps them: no spaces, upper case."""
    return "".join(number.split()).upper()


def ingest(*, session: Session, update: TrackingUpdate) -> Ingested:
    """Record ``update`` once and apply it to its parcel, in the caller's transaction."""
    seen = _seen(session, update)
    if seen is not None:
        return _counted(update, Ingested("duplicate", seen.shipment_id))
    shipment = find_shipment(session, update.tracking_number, update.carrier)
    row = ShipmentUpdate(
        source=update.source,
        event_id=update.event_id,
        shipment_id=shipment.id if shipment else None,
        tracking_number=normalise_tracking(update.tracking_number),
        occurred_at=update.occurred_at,
        status=update.status,
        code=update.code,
        outcome="unmatched",
        data=update.model_dump(mode="json", exclude={"checkpoints"}),
    )
    try:
        with session.begin_nested():  # the same webhook delivered twice at once: one wins
            session.add(row)
    except IntegrityError:
        winner = _seen(session, update)
        if winner is None:
            raise
        return _counted(update, Ingested("duplicate", winner.shipment_id))
    if shipment is None:
        return _counted(update, Ingested("unmatched"))
    _add_history(session, shipment, update)
    row.outcome = _apply(shipment, update)
    return _counted(update, Ingested(row.outcome, shipment.id))


def find_shipment(session: Session, tracking_number: str, carrier: str | None) -> Shipment | None:
    """The parcel with this tracking number; the carrier decides when two carriers reuse one."""
    found = session.scalars(
        select(Shipment)
        .where(Shipment.tracking_number == normalise_tracking(tracking_number))
        .order_by(Shipment.id.desc())
    ).all()
    if len(found) > 1 and carrier:
        same = [s for s in found if s.carrier == carrier]
        return same[0] if same else found[0]
    return found[0] if found else None


def _seen(session: Session, update: TrackingUpdate) -> ShipmentUpdate | None:
    return session.scalar(
        select(ShipmentUpdate).where(
            ShipmentUpdate.source == update.source, ShipmentUpdate.event_id == update.event_id
        )
    )


def _add_history(session: Session, shipment: Shipment, update: TrackingUpdate) -> None:
    """The scans this parcel's history lacks (unique per time and code, so overlapping updates
    add each scan once)."""
    rows = session.execute(
        select(TrackingEvent.occurred_at, TrackingEvent.code).where(
            TrackingEvent.shipment_id == shipment.id
        )
    )
    known = {(at, code) for at, code in rows}
    for point in update.checkpoints:
        key = (point.occurred_at.astimezone(UTC), point.code)
        if key in known:
            continue
        known.add(key)
        session.add(
            TrackingEvent(
                shipment_id=shipment.id,
                occurred_at=point.occurred_at,
                code=point.code,
                status=point.status,
                description=point.description,
                location=point.location,
                source=update.source,
            )
        )
    if update.source != "email":  # a carrier's email reports on a parcel; it is not a scan
        newest = max((p.occurred_at for p in update.checkpoints), default=None)
        if newest is not None and (shipment.last_scan_at is None or newest > shipment.last_scan_at):
            shipment.last_scan_at = newest


def _apply(shipment: Shipment, update: TrackingUpdate) -> Outcome:
    """Status, ETAs and the reported delay from the newest update only."""
    applied = shipment.tracking_updated_at
    if applied is not None and update.occurred_at < applied:
        return "older"
    shipment.tracking_updated_at = update.occurred_at
    status = update.status
    settled = shipment.status in FINAL and status is not ShipmentStatus.RETURNED
    if status is not None and not settled:
        shipment.status = status
        if status is ShipmentStatus.DELIVERED:
            shipment.delivered_at = update.occurred_at
    shipment.eta = update.eta or shipment.eta
    shipment.predicted_eta = update.predicted_eta or shipment.predicted_eta
    if update.delay:
        shipment.delay_reported_at = update.occurred_at
    elif shipment.status in DELAY_OVER:
        shipment.delay_reported_at = None
    return "applied"


def _counted(update: TrackingUpdate, result: Ingested) -> Ingested:
    TRACKING_UPDATES.labels(source=update.source, outcome=result.outcome).inc()
    return result


def parse_day(value: str | None) -> date | None:
    """A date from what aggregators send: ``2026-12-05``, ``2026-12-05T18:00:00`` or with an
    offset (the recipient's own day either way); None for anything else."""
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_moment(value: str | None) -> datetime | None:
    """An aware datetime from an ISO string; one without an offset is taken as UTC (what
    EasyPost does when it has no location, and AfterShip's ``created_at``)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
