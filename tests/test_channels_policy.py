"""Send-time policy: consent, quiet hours, frequency caps, WhatsApp's window, channel fallback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.channels_support import add_customer, file_channels, make_dispatcher, notify
from tests.factories import brand_rows
from tidings.channels.consent import set_consent
from tidings.channels.whatsapp import TemplateDefinition, define_template
from tidings.config import BrandsFile
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind, NotificationState
from tidings.store.models import Notification, WhatsAppApproval

S = NotificationState
IST = ZoneInfo("Asia/Kolkata")


def at_ist(hour: int, minute: int = 0, *, days: int = 0) -> datetime:
    """Today (or ``days`` later) at this time in India, as UTC."""
    local = datetime.now(IST).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return (local + timedelta(days=days)).astimezone(UTC)


def dispatch(
    sessions: SessionFactory, brands: BrandsFile, tmp_path: Path, now: datetime
) -> dict[str, int]:
    """Run a dispatcher on the file outbox with the clock at ``now``."""
    dispatcher = make_dispatcher(sessions, brands, file_channels(tmp_path), clock=lambda: now)
    counts = dispatcher.run_until_idle().counts
    dispatcher.close()
    return counts


def only_row(sessions: SessionFactory) -> Notification:
    """The one notification."""
    with sessions() as session:
        [row] = session.scalars(select(Notification)).all()
        return row


class TestConsentAndFallback:
    def test_opted_out_channel_falls_back_in_the_customers_order(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """Opted out of WhatsApp: the message goes by email, and the reason is kept."""
        with transaction(sessions) as session:
            rows = brand_rows(session, brands)
            person = add_customer(
                session, rows["kapas"], opted_in={"whatsapp": False, "email": True}
            )
            notify(session, rows["kapas"], person)
        assert dispatch(sessions, brands, tmp_path, at_ist(12)) == {"sent": 1}
        row = only_row(sessions)
        assert row.channel is ChannelKind.EMAIL and row.recipient == "asha.rao@example.in"
        assert row.hold_reason == "whatsapp: opted out (checkout)"

    def test_no_allowed_channel_drops_with_every_reason(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """STOP after enqueue is honoured at send time; with no channel left the row is dropped."""
        with transaction(sessions) as session:
            rows = brand_rows(session, brands)
            person = add_customer(session, rows["kapas"], channels=("whatsapp", "sms", "email"))
            notify(session, rows["kapas"], person)
        with transaction(sessions) as session:
            set_consent(
                session=session,
                customer_id=person.id,
                channel=ChannelKind.WHATSAPP,
                opted_in=False,
                source="whatsapp reply STOP",
            )
            set_consent(
                session=session,
                customer_id=person.id,
                channel=ChannelKind.SMS,
                opted_in=False,
                source="sms reply STOP",
            )
            set_consent(
                session=session,
                customer_id=person.id,
                channel=ChannelKind.EMAIL,
                opted_in=False,
                source="unsubscribe link",
            )
        assert dispatch(sessions, brands, tmp_path, at_ist(12)) == {"dropped": 1}
        row = only_row(sessions)
        assert row.state is S.DROPPED
        assert row.hold_reason == (
            "no channel allowed: whatsapp: opted out (whatsapp reply STOP); "
            "sms: opted out (sms reply STOP); email: opted out (unsubscribe link)"
        )
        assert not tmp_path.joinpath("kapas").exists()

    def test_sms_needs_an_opt_in_email_does_not(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """Without any consent row SMS is skipped, transactional email goes."""
        with transaction(sessions) as session:
            rows = brand_rows(session, brands)
            person = add_customer(session, rows["kapas"], channels=("sms", "email"), opted_in={})
            notify(session, rows["kapas"], person)
        assert dispatch(sessions, brands, tmp_path, at_ist(12)) == {"sent": 1}
        row = only_row(sessions)
        assert row.channel is ChannelKind.EMAIL and row.hold_reason == "sms: no opt-in"

    def test_brand_without_a_sender_falls_back(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """Griha Home has no WhatsApp number: its customers hear by SMS instead."""
        with transaction(sessions) as session:
            rows = brand_rows(session, brands)
            person = add_customer(session, rows["griha"], channels=("whatsapp", "sms"))
            notify(session, rows["griha"], person, order_number="GRH-100001")
        assert dispatch(sessions, brands, tmp_path, at_ist(12)) == {"sent": 1}
        row = only_row(sessions)
        assert row.channel is ChannelKind.SMS and row.recipient == "+919800000001"
        assert row.hold_reason == "whatsapp: griha has no whatsapp sender"


class TestQuietHoursAndCaps:
    def test_proactive_message_waits_for_quiet_hours_to_end(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """A delay notice at 23:00 in India is held until 09:00 there, then sent."""
        with transaction(sessions) as session:
            rows = brand_rows(session, brands)
            person = add_customer(session, rows["kapas"], channels=("email",))
            notify(session, rows["kapas"], person, event="delayed")
        assert dispatch(sessions, brands, tmp_path, at_ist(23)) == {"held": 1}
        row = only_row(sessions)
        assert row.state is S.HELD and row.next_attempt_at == at_ist(9, days=1)
        assert row.hold_reason == "quiet hours 21:00-09:00 Asia/Kolkata; held until 09:00"
        assert dispatch(sessions, brands, tmp_path, at_ist(8, 59, days=1)) == {}
        assert dispatch(sessions, brands, tmp_path, at_ist(9, 1, days=1)) == {"sent": 1}
        assert only_row(sessions).hold_reason is None

    def test_quiet_hours_use_the_customers_time_zone(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """20:00 in India is 22:30 in Kuala Lumpur: quiet for a Seri customer there (22:00-08:00),
        so the notice waits until 08:00 Kuala Lumpur time."""
        kl = ZoneInfo("Asia/Kuala_Lumpur")
        with transaction(sessions) as session:
            rows = brand_rows(session, brands)
            person = add_customer(session, rows["seri"], channels=("email",), time_zone=kl.key)
            notify(session, rows["seri"], person, event="shipped", order_number="SERI-10001")
        now = at_ist(20)
        assert dispatch(sessions, brands, tmp_path, now) == {"held": 1}
        held_until = only_row(sessions).next_attempt_at
        assert held_until is not None and held_until.astimezone(kl).hour == 8
        assert timedelta(hours=9) < held_until - now < timedelta(hours=10)

    def test_replies_are_not_held_by_quiet_hours(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """A confirmation of what the customer just did goes at any hour."""
        with transaction(sessions) as session:
            rows = brand_rows(session, brands)
            person = add_customer(session, rows["kapas"], channels=("email",))
            notify(session, rows["kapas"], person, event="cancellation_confirmed")
        assert dispatch(sessions, brands, tmp_path, at_ist(23, 30)) == {"sent": 1}

    def test_frequency_cap_drops_the_extra_proactive_message(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """Kapas allows 3 proactive messages a week: the fourth is dropped with the reason."""
        with transaction(sessions) as session:
            rows = brand_rows(session, brands)
            person = add_customer(session, rows["kapas"], channels=("email",))
            for episode in "abcd":
                notify(session, rows["kapas"], person, event="delayed", episode=episode)
        assert dispatch(sessions, brands, tmp_path, at_ist(12)) == {"sent": 3, "dropped": 1}
        with sessions() as session:
            dropped = session.scalars(
                select(Notification).where(Notification.state == S.DROPPED)
            ).one()
        assert (
            dropped.hold_reason == "frequency cap: 3 proactive messages in 7 days, brand allows 3"
        )


class TestWhatsAppWindow:
    def _setup(
        self,
        sessions: SessionFactory,
        brands: BrandsFile,
        *,
        last_inbound: datetime | None,
        approved: bool,
    ) -> None:
        with transaction(sessions) as session:
            rows = brand_rows(session, brands)
            person = add_customer(
                session,
                rows["kapas"],
                channels=("whatsapp", "email"),
                last_inbound_whatsapp_at=last_inbound,
            )
            template = define_template(
                session=session,
                definition=TemplateDefinition(
                    brand="kapas",
                    event="order_confirmed",
                    language="en",
                    body="Hi {{1}}, we got order {{2}}.",
                    variables=["customer.first_name", "order.number"],
                ),
            )
            template.content_sid = "HX" + "ab" * 16
            template.approval_status = (
                WhatsAppApproval.APPROVED if approved else WhatsAppApproval.PENDING
            )
            notify(session, rows["kapas"], person)

    def test_inside_the_window_free_text_goes(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """The customer wrote an hour ago: the rendered text goes by WhatsApp."""
        self._setup(sessions, brands, last_inbound=at_ist(11), approved=False)
        assert dispatch(sessions, brands, tmp_path, at_ist(12)) == {"sent": 1}
        row = only_row(sessions)
        document = json.loads((tmp_path / "kapas" / "whatsapp" / f"{row.id:08d}.json").read_text())
        assert "content_sid" not in document and document["text"].startswith(
            "order_confirmed for Asha"
        )

    def test_outside_the_window_an_approved_template_goes(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """Outside the window the approved template goes, with its variables filled."""
        self._setup(sessions, brands, last_inbound=at_ist(11, days=-2), approved=True)
        assert dispatch(sessions, brands, tmp_path, at_ist(12)) == {"sent": 1}
        row = only_row(sessions)
        assert (
            row.channel is ChannelKind.WHATSAPP and row.body == "Hi Asha, we got order KAP-100001."
        )
        document = json.loads((tmp_path / "kapas" / "whatsapp" / f"{row.id:08d}.json").read_text())
        assert document["content_sid"] == "HX" + "ab" * 16
        assert document["content_variables"] == {"1": "Asha", "2": "KAP-100001"}

    def test_outside_the_window_without_approval_falls_to_email(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """A template still pending approval cannot be used: the next channel is."""
        self._setup(sessions, brands, last_inbound=None, approved=False)
        assert dispatch(sessions, brands, tmp_path, at_ist(12)) == {"sent": 1}
        row = only_row(sessions)
        assert row.channel is ChannelKind.EMAIL
        assert row.hold_reason == "whatsapp: outside the 24-hour window and no approved template"
