"""Proactive notices through the real dispatcher, renderer and file outbox: quiet hours in the
customer's time zone across daylight-saving changes, the weekly cap, and WhatsApp's rules with
the brand's channel fallback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.channels_support import FAST_RETRY, file_channels
from tests.factories import brand_rows
from tests.wismo_support import parcel, queued, scanner
from tidings.channels.dispatch import Dispatcher
from tidings.config import BrandsFile
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind, NotificationState, ShipmentStatus
from tidings.store.models import (
    Customer,
    CustomerConsent,
    WhatsAppApproval,
    WhatsAppTemplate,
)
from tidings.templates.bundled import load_bundled

S = NotificationState


def dispatcher(
    sessions: SessionFactory, brands: BrandsFile, outbox: Path, at: datetime
) -> Dispatcher:
    """The dispatcher with the bundled templates and the file outbox, its clock at ``at``."""
    return Dispatcher(
        session_factory=sessions,
        brands=brands,
        channels=file_channels(outbox),
        retry=FAST_RETRY,
        clock=lambda: at,
    )


@pytest.fixture
def templates(sessions: SessionFactory, brands: BrandsFile) -> None:
    """The bundled copy, as the demo loads it."""
    with transaction(sessions) as session:
        load_bundled(session=session, brands=brands)


@pytest.mark.usefixtures("templates")
@pytest.mark.parametrize(
    ("zone", "now", "held_until"),
    [
        # Summer time starts in London on Sunday 29 March 2026: 07:30 UTC is 08:30 BST, inside
        # kapas's 21:00-09:00, and 09:00 BST is 08:00 UTC.
        (
            "Europe/London",
            datetime(2026, 3, 29, 7, 30, tzinfo=UTC),
            datetime(2026, 3, 29, 8, 0, tzinfo=UTC),
        ),
        # It ends on 25 October: 08:30 UTC is 08:30 GMT, and 09:00 GMT is 09:00 UTC.
        (
            "Europe/London",
            datetime(2026, 10, 25, 8, 30, tzinfo=UTC),
            datetime(2026, 10, 25, 9, 0, tzinfo=UTC),
        ),
        # New York springs forward on 8 March: 21:30 EDT that evening waits for 09:00 EDT.
        (
            "America/New_York",
            datetime(2026, 3, 9, 1, 30, tzinfo=UTC),
            datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
        ),
        # 23:59 in Kolkata (no daylight saving) waits for 09:00 the next morning.
        (
            "Asia/Kolkata",
            datetime(2026, 12, 2, 18, 29, tzinfo=UTC),
            datetime(2026, 12, 3, 3, 30, tzinfo=UTC),
        ),
    ],
)
def test_quiet_hours_in_the_customers_zone_across_daylight_saving(
    sessions: SessionFactory,
    brands: BrandsFile,
    tmp_path: Path,
    zone: str,
    now: datetime,
    held_until: datetime,
) -> None:
    """A delay found at night (the customer's night) is held until the brand's quiet hours end
    in the customer's time zone, then written to the outbox in their language."""
    with transaction(sessions) as session:
        kapas = brand_rows(session, brands)["kapas"]
        parcel(
            session,
            kapas,
            now=now,
            status=ShipmentStatus.HELD_CUSTOMS,
            time_zone=zone,
            language="hi",
        )
    assert scanner(sessions, brands, now).scan().enqueued == 1
    assert dispatcher(sessions, brands, tmp_path, now).run_until_idle().counts == {"held": 1}
    [row] = queued(sessions)
    assert (row.state, row.next_attempt_at) == (S.HELD, held_until)
    early = dispatcher(sessions, brands, tmp_path, held_until - timedelta(minutes=1))
    assert early.run_until_idle().counts == {}
    done = dispatcher(sessions, brands, tmp_path, held_until).run_until_idle()
    assert done.counts == {"sent": 1}
    [written] = list(tmp_path.rglob("*.eml"))
    message = message_from_bytes(written.read_bytes(), policy=policy.default)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "ऑर्डर" in body.get_content()  # Hindi, the customer's language
    assert queued(sessions)[0].state is S.SENT


@pytest.mark.usefixtures("templates")
def test_the_weekly_cap_drops_what_is_beyond_it(
    sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
) -> None:
    """Seri allows two proactive messages a week: a customer with three parcels in trouble
    hears twice; the third notice is dropped with the reason."""
    now = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)  # 14:30 in Kuala Lumpur
    with transaction(sessions) as session:
        seri = brand_rows(session, brands)["seri"]
        first = parcel(
            session,
            seri,
            now=now,
            status=ShipmentStatus.FAILED_ATTEMPT,
            time_zone="Asia/Kuala_Lumpur",
            language="ms",
        )
        customer = session.get_one(Customer, first.order.customer_id)
        for _ in range(2):
            parcel(session, seri, now=now, status=ShipmentStatus.FAILED_ATTEMPT, customer=customer)
    assert scanner(sessions, brands, now).scan().enqueued == 3
    counts = dispatcher(sessions, brands, tmp_path, now).run_until_idle().counts
    assert counts == {"sent": 2, "dropped": 1}
    [dropped] = [n for n in queued(sessions) if n.state is S.DROPPED]
    assert dropped.hold_reason is not None and "frequency cap" in dropped.hold_reason


def _whatsapp_template(session: Session, brand_id: int, category: str) -> None:
    """An approved WhatsApp template for failed_attempt in English, of ``category``."""
    session.add(
        WhatsAppTemplate(
            brand_id=brand_id,
            event="failed_attempt",
            language="en",
            friendly_name=f"kapas_failed_attempt_en_{category.lower()}",
            body="Order {{1}}: we could not deliver it today. Track: {{2}}",
            variables=["order.number", "shipment.tracking_url"],
            category=category,
            content_sid=f"HX{category.lower():0<32}"[:34],
            approval_status=WhatsAppApproval.APPROVED,
        )
    )


@pytest.mark.usefixtures("templates")
@pytest.mark.parametrize(
    ("category", "window", "whatsapp_consent", "sent_on", "template"),
    [
        ("UTILITY", False, True, ChannelKind.WHATSAPP, True),  # an approved utility template
        ("MARKETING", False, True, ChannelKind.SMS, False),  # not one for a notice: SMS
        ("MARKETING", True, True, ChannelKind.WHATSAPP, False),  # they wrote: free text
        ("UTILITY", False, False, ChannelKind.SMS, False),  # opted out: the next channel
    ],
)
def test_whatsapp_rules_and_the_brands_fallback(
    sessions: SessionFactory,
    brands: BrandsFile,
    tmp_path: Path,
    category: str,
    window: bool,
    whatsapp_consent: bool,
    sent_on: ChannelKind,
    template: bool,
) -> None:
    """Kapas tries WhatsApp, then SMS, then email. Outside the customer's 24-hour window only
    an approved utility template may go; otherwise (or after a STOP) the next channel does."""
    now = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)
    with transaction(sessions) as session:
        kapas = brand_rows(session, brands)["kapas"]
        shipment = parcel(
            session,
            kapas,
            now=now,
            status=ShipmentStatus.FAILED_ATTEMPT,
            channels=("email",),
            opted_in=(ChannelKind.SMS, ChannelKind.EMAIL),
        )
        customer = session.get_one(Customer, shipment.order.customer_id)
        customer.consents.append(
            CustomerConsent(
                channel=ChannelKind.WHATSAPP,
                opted_in=whatsapp_consent,
                source="checkout" if whatsapp_consent else "whatsapp reply STOP",
            )
        )
        if window:
            customer.last_inbound_whatsapp_at = now - timedelta(hours=2)
        _whatsapp_template(session, kapas.id, category)
    scanner(sessions, brands, now).scan()
    assert dispatcher(sessions, brands, tmp_path, now).run_until_idle().counts == {"sent": 1}
    [row] = queued(sessions)
    assert row.channel is sent_on
    [written] = list((tmp_path / "kapas" / sent_on.value).glob("*.json"))
    message = json.loads(written.read_text())
    assert bool(message.get("content_sid")) is template
