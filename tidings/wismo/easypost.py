"""EasyPost tracker webhooks: the signature check and the mapping to a ``TrackingUpdate``.

EasyPost signs the raw body with the ``webhook_secret`` given when the webhook was created:
header ``X-Hmac-Signature: hmac-sha256-hex=<hex HMAC-SHA256>``, the secret NFKD-normalised and
UTF-8 encoded (as EasyPost's own ``validate_webhook`` does). The body is an ``Event``
(``id`` "evt_...", ``description`` "tracker.created" / "tracker.updated", ``result`` the
``Tracker``: ``tracking_code``, ``carrier``, ``status``, ``status_detail``,
``est_delivery_date``, ``tracking_details``). Events about other objects are acknowledged and
ignored. No HTTP here: the route is ``tidings.web.routes.tracking``.

Status mapping (docs/wismo.md has the table): ``pre_transit`` is ``label_created``,
``in_transit``/``out_for_delivery``/``delivered`` map directly, ``available_for_pickup`` is
``out_for_delivery``, ``return_to_sender`` is ``returned``, ``failure``/``cancelled``/``error``
are ``exception`` (a failed delivery attempt is ``failed_attempt``), ``unknown`` says nothing
new. A ``status_detail`` that names a delay (weather, missorted...) sets the delay flag; one about
customs is ``held_customs``.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from pydantic import Field

from tidings.store.enums import ShipmentStatus
from tidings.wismo.events import (
    Checkpoint,
    Payload,
    TrackingUpdate,
    load_payload,
    parse_day,
    parse_moment,
    validated,
)

SIGNATURE = "X-Hmac-Signature"
PREFIX = "hmac-sha256-hex="
TRACKER_EVENTS = ("tracker.created", "tracker.updated")
S = ShipmentStatus

STATUSES: dict[str, ShipmentStatus | None] = {
    "unknown": None,
    "pre_transit": S.LABEL_CREATED,
    "in_transit": S.IN_TRANSIT,
    "out_for_delivery": S.OUT_FOR_DELIVERY,
    "available_for_pickup": S.OUT_FOR_DELIVERY,
    "delivered": S.DELIVERED,
    "return_to_sender": S.RETURNED,
    "failure": S.EXCEPTION,
    "cancelled": S.EXCEPTION,
    "error": S.EXCEPTION,
}
DELAY_DETAILS = frozenset({"delayed", "weather_delay", "missorted", "transit_exception"})
DETAIL_STATUSES: dict[str, ShipmentStatus] = {
    "delivery_exception": S.FAILED_ATTEMPT,
    "delivery_attempted": S.FAILED_ATTEMPT,
    "return": S.RETURNED,
    "lost": S.EXCEPTION,
    "damaged": S.EXCEPTION,
    "refused": S.EXCEPTION,
}
# EasyPost carrier names whose code in Tidings differs.
CARRIERS = {"DHLExpress": "dhl", "FedEx": "fedex", "UPS": "ups", "USPS": "usps"}


class _Location(Payload):
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=100)


class _Detail(Payload):
    datetime: str | None = Field(default=None, max_length=40)
    message: str | None = Field(default=None, max_length=2000)
    status: str | None = Field(default=None, max_length=32)
    status_detail: str | None = Field(default=None, max_length=32)
    tracking_location: _Location | None = None


class _CarrierDetail(Payload):
    est_delivery_date_local: str | None = Field(default=None, max_length=40)


class _Tracker(Payload):
    object: str | None = Field(default=None, max_length=32)
    tracking_code: str = Field(min_length=1, max_length=64)
    carrier: str | None = Field(default=None, max_length=64)
    status: str | None = Field(default=None, max_length=32)
    status_detail: str | None = Field(default=None, max_length=32)
    est_delivery_date: str | None = Field(default=None, max_length=40)
    updated_at: str | None = Field(default=None, max_length=40)
    carrier_detail: _CarrierDetail | None = None
    tracking_details: list[_Detail] = Field(default_factory=list, max_length=500)


class _Event(Payload):
    id: str = Field(min_length=1, max_length=100)
    description: str = Field(max_length=64)
    created_at: str | None = Field(default=None, max_length=40)
    result: dict[str, object] | None = None


def verify(body: bytes, signature: str, secret: str) -> bool:
    """Whether ``signature`` is EasyPost's for this body, compared in constant time. An empty
    secret or signature never verifies."""
    if not secret or not signature:
        return False
    return hmac.compare_digest(sign(body, secret), signature.strip())


def sign(body: bytes, secret: str) -> str:
    """The header value EasyPost sends for this body."""
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def status_of(status: str | None, detail: str | None) -> tuple[ShipmentStatus | None, bool]:
    """(Tidings status, the carrier says delayed) for EasyPost's status and status detail."""
    detail = (detail or "").lower()
    mapped = STATUSES.get((status or "unknown").lower())
    if "customs" in detail:
        return S.HELD_CUSTOMS, False
    if detail in DETAIL_STATUSES and mapped not in (S.DELIVERED, None):
        return DETAIL_STATUSES[detail], False
    return mapped, detail in DELAY_DETAILS


def parse(body: bytes) -> TrackingUpdate | None:
    """A verified event body as a tracking update; None for an event about something else than
    a tracker; ``ValueError`` naming what is wrong."""
    event = validated(_Event, load_payload(body, "EasyPost event"), "an EasyPost event")
    if event.description not in TRACKER_EVENTS or event.result is None:
        return None
    tracker = validated(_Tracker, event.result, "an EasyPost tracker event")
    status, delayed = status_of(tracker.status, tracker.status_detail)
    checkpoints = [c for c in map(_checkpoint, tracker.tracking_details) if c is not None]
    occurred = (
        max((c.occurred_at for c in checkpoints), default=None)
        or parse_moment(tracker.updated_at)
        or parse_moment(event.created_at)
    )
    if occurred is None:
        raise ValueError("the EasyPost event has no time: no tracking detail nor updated_at")
    local = tracker.carrier_detail.est_delivery_date_local if tracker.carrier_detail else None
    carrier = tracker.carrier or ""
    return TrackingUpdate(
        source="easypost",
        event_id=event.id,
        tracking_number=tracker.tracking_code,
        carrier=CARRIERS.get(carrier, carrier.lower()) or None,
        occurred_at=occurred,
        status=status,
        code=(tracker.status_detail or tracker.status or "unknown")[:32],
        eta=parse_day(local) or parse_day(tracker.est_delivery_date),
        delay=delayed,
        checkpoints=checkpoints,
    )


def _checkpoint(detail: _Detail) -> Checkpoint | None:
    moment = parse_moment(detail.datetime)
    status, _ = status_of(detail.status, detail.status_detail)
    if moment is None or status is None:
        return None
    where = detail.tracking_location
    place = ", ".join(p for p in (where.city, where.state, where.country) if p) if where else ""
    return Checkpoint(
        occurred_at=moment,
        status=status,
        code=(detail.status_detail or detail.status or "")[:32],
        description=detail.message or "",
        location=place[:200] or None,
    )
