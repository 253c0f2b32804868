"""AfterShip tracking webhooks: the signature check and the mapping to a ``TrackingUpdate``.

AfterShip signs the raw request body: header ``aftership-hmac-sha256`` is the base64 HMAC-SHA256
of the body under the webhook secret (Settings > Webhooks). The body is ``{"event",
"event_id", "is_tracking_first_tag", "msg", "ts"}``; ``msg`` is the tracking object (``tag``,
``subtag``, ``checkpoints``, ``courier_estimated_delivery_date``,
``aftership_estimated_delivery_date``). Events ``tracking_update``, ``edd_revise`` and
``tracking_pending_time`` all carry the tracking, so all map the same way; ``event_id`` (a
UUID) makes a redelivery a duplicate. No HTTP here: the route is ``tidings.web.routes.tracking``.

Status mapping (docs/wismo.md has the table): the nine delivery statuses (``tag``) map directly,
and for ``Exception`` the sub-status decides: customs and payment holds are ``held_customs``,
the delays (external factors, processing, weather) stay ``in_transit`` with the delay flag,
returns are ``returned``, and the rest (moved, refused, wrong address, damaged, lost...) are
``exception``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

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

SIGNATURE = "aftership-hmac-sha256"
S = ShipmentStatus

TAGS: dict[str, ShipmentStatus] = {
    "Pending": S.LABEL_CREATED,
    "InfoReceived": S.LABEL_CREATED,
    "InTransit": S.IN_TRANSIT,
    "OutForDelivery": S.OUT_FOR_DELIVERY,
    "AvailableForPickup": S.OUT_FOR_DELIVERY,
    "AttemptFail": S.FAILED_ATTEMPT,
    "Delivered": S.DELIVERED,
    "Exception": S.EXCEPTION,
    "Expired": S.EXCEPTION,  # no tracking news for 30 days: someone must look
}
# Exception sub-statuses that are not a plain exception: (status, the carrier says "delayed").
EXCEPTION_SUBTAGS: dict[str, tuple[ShipmentStatus, bool]] = {
    "Exception_004": (S.HELD_CUSTOMS, False),  # delayed in customs clearance
    "Exception_005": (S.IN_TRANSIT, True),  # delayed (external factors)
    "Exception_006": (S.HELD_CUSTOMS, False),  # held for payment (duties)
    "Exception_010": (S.RETURNED, False),  # returning to sender
    "Exception_011": (S.RETURNED, False),  # returned to sender
    "Exception_016": (S.IN_TRANSIT, True),  # delayed (processing issue)
    "Exception_017": (S.IN_TRANSIT, True),  # delayed (extreme weather)
    "Exception_018": (S.HELD_CUSTOMS, False),  # incorrect or missing documents
}
# AfterShip courier slugs whose code in Tidings differs.
SLUGS = {
    "india-post": "indiapost",
    "blue-dart": "bluedart",
    "jtexpress-id": "jnt_id",
    "jtexpress-my": "jnt_my",
    "ninjavan-my": "ninjavan_my",
    "malaysia-post": "posmalaysia",
    "pos-indonesia": "posindonesia",
    "city-link": "citylink",
}


class _Estimate(Payload):
    estimated_delivery_date: str | None = Field(default=None, max_length=40)


class _Checkpoint(Payload):
    checkpoint_time: str | None = Field(default=None, max_length=40)
    created_at: str | None = Field(default=None, max_length=40)
    tag: str | None = Field(default=None, max_length=32)
    subtag: str | None = Field(default=None, max_length=32)
    message: str | None = Field(default=None, max_length=2000)
    location: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=200)


class _Tracking(Payload):
    tracking_number: str = Field(min_length=1, max_length=64)
    slug: str | None = Field(default=None, max_length=64)
    tag: str | None = Field(default=None, max_length=32)
    subtag: str | None = Field(default=None, max_length=32)
    checkpoints: list[_Checkpoint] = Field(default_factory=list, max_length=500)
    courier_estimated_delivery_date: _Estimate | None = None
    aftership_estimated_delivery_date: _Estimate | None = None
    expected_delivery: str | None = Field(default=None, max_length=40)  # before 2024-07
    updated_at: str | None = Field(default=None, max_length=40)


class _Webhook(Payload):
    event: str = Field(max_length=64)
    event_id: str = Field(min_length=1, max_length=100)
    ts: int | None = Field(default=None, ge=0, le=2**40)
    msg: _Tracking


def verify(body: bytes, signature: str, secret: str) -> bool:
    """Whether ``signature`` is AfterShip's for this body: base64 HMAC-SHA256, compared in
    constant time. An empty secret or signature never verifies."""
    if not secret or not signature:
        return False
    return hmac.compare_digest(sign(body, secret), signature.strip())


def sign(body: bytes, secret: str) -> str:
    """The header value AfterShip would send (tests and local tools sign with it)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def status_of(tag: str | None, subtag: str | None) -> tuple[ShipmentStatus | None, bool]:
    """(Tidings status, the carrier says delayed) for AfterShip's tag and sub-status."""
    if tag == "Exception" and subtag in EXCEPTION_SUBTAGS:
        return EXCEPTION_SUBTAGS[subtag]
    return TAGS.get(tag or ""), False


def parse(body: bytes) -> TrackingUpdate:
    """A verified webhook body as a tracking update; ``ValueError`` naming what is wrong."""
    document = load_payload(body, "AfterShip webhook")
    hook = validated(_Webhook, document, "an AfterShip tracking webhook")
    tracking = hook.msg
    status, delayed = status_of(tracking.tag, tracking.subtag)
    checkpoints = [c for c in map(_checkpoint, tracking.checkpoints) if c is not None]
    occurred = (
        datetime.fromtimestamp(hook.ts, tz=UTC)
        if hook.ts
        else max((c.occurred_at for c in checkpoints), default=None)
        or parse_moment(tracking.updated_at)
    )
    if occurred is None:
        raise ValueError("the AfterShip webhook has no time: neither ts nor a checkpoint")
    courier = tracking.courier_estimated_delivery_date
    predicted = tracking.aftership_estimated_delivery_date
    slug = (tracking.slug or "").lower()
    return TrackingUpdate(
        source="aftership",
        event_id=hook.event_id,
        tracking_number=tracking.tracking_number,
        carrier=SLUGS.get(slug, slug.replace("-", "_")) or None,
        occurred_at=occurred,
        status=status,
        code=(tracking.subtag or tracking.tag or hook.event)[:32],
        eta=parse_day(courier.estimated_delivery_date if courier else None)
        or parse_day(tracking.expected_delivery),
        predicted_eta=parse_day(predicted.estimated_delivery_date if predicted else None),
        delay=delayed,
        checkpoints=checkpoints,
    )


def _checkpoint(point: _Checkpoint) -> Checkpoint | None:
    """A checkpoint with a time we can place: its own with an offset, else when AfterShip
    recorded it (UTC); a local time without an offset is not guessed."""
    moment = _with_offset(point.checkpoint_time) or parse_moment(point.created_at)
    status, _ = status_of(point.tag, point.subtag)
    if moment is None or status is None:
        return None
    return Checkpoint(
        occurred_at=moment,
        status=status,
        code=(point.subtag or point.tag or "")[:32],
        description=point.message or "",
        location=point.location or point.city,
    )


def _with_offset(value: str | None) -> datetime | None:
    """The checkpoint's own time, if it says which zone it is in."""
    try:
        moment = datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None
