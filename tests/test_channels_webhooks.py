"""Delivery-status webhooks and STOP replies, over real HTTP on loopback (unsubscribe links:
test_web_unsubscribe.py)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Engine, func, select
from twilio.request_validator import RequestValidator

from tests.channels_support import SECRET, TOKEN, add_customer, make_dispatcher, notify, twilio_post
from tests.factories import brand_rows
from tests.http import loopback_client, serve_app
from tidings.channels.base import OutboundMessage, SendResult
from tidings.channels.compose import Links
from tidings.channels.outbox import POSSIBLY_SENT
from tidings.channels.status import CONFIRMED
from tidings.config import BrandsFile, Settings
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind, NotificationState
from tidings.store.models import Customer, CustomerConsent, DeliveryEvent, Notification
from tidings.web.app import create_app

S = NotificationState


@pytest.fixture(scope="module")
def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    """A SendGrid-style ECDSA key pair (P-256); the app gets the public half."""
    return ec.generate_private_key(ec.SECP256R1())


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The public key as SendGrid shows it: base64 DER, no PEM armour."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.fixture
def app_url(
    engine: Engine, sendgrid_key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> Iterator[str]:
    """The web app with Twilio and SendGrid webhooks configured."""
    settings = Settings(
        twilio={"account_sid": "AC" + "0" * 32, "auth_token": TOKEN},
        sendgrid={"webhook_public_key": public_key_b64(sendgrid_key)},
        web={"secret_key": SECRET},
        outbox_dir=tmp_path,
    )
    with serve_app(create_app(settings, engine=engine)) as url:
        yield url


def sendgrid_post(
    base: str,
    events: Any,
    key: ec.EllipticCurvePrivateKey,
    *,
    at: float | None = None,
    body: str | None = None,
) -> httpx.Response:
    """POST events as SendGrid does, signed over timestamp + body; ``at`` signs another time,
    ``body`` sends (and signs) raw text instead of ``events`` as JSON."""
    body = json.dumps(events) if body is None else body
    timestamp = str(int(time.time() if at is None else at))
    signature = key.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }
    with loopback_client(base) as client:
        return client.post("/webhooks/sendgrid/events", content=body, headers=headers)


def sent_row(
    sessions: SessionFactory,
    brands: BrandsFile,
    *,
    provider_message_id: str | None = "SM1",
    channel: str = "whatsapp",
) -> int:
    """A notification already sent, with a provider message id."""
    with transaction(sessions) as session:
        rows = brand_rows(session, brands)
        person = add_customer(session, rows["kapas"], channels=(channel,))
        row = notify(session, rows["kapas"], person)
        row.state, row.provider_message_id = S.SENT, provider_message_id
        return row.id


def state_of(sessions: SessionFactory, row_id: int) -> Notification:
    """The row as stored now."""
    with sessions() as session:
        row = session.get(Notification, row_id)
        assert row is not None
        return row


def status(sid: str, value: str, **extra: str) -> dict[str, str]:
    """A Twilio status callback's form."""
    return {"MessageSid": sid, "MessageStatus": value, "AccountSid": "AC" + "0" * 32, **extra}


class TestTwilioStatus:
    def test_callbacks_move_the_row_forward_only(
        self, app_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """sent -> read -> (late) delivered: the row ends read; a replay changes nothing."""
        row_id = sent_row(sessions, brands)
        path = f"/webhooks/twilio/status?notification={row_id}"
        assert twilio_post(app_url, path, status("SM1", "read")).json() == {"outcome": "applied"}
        assert twilio_post(app_url, path, status("SM1", "delivered")).json() == {
            "outcome": "applied"
        }
        assert twilio_post(app_url, path, status("SM1", "read")).json() == {"outcome": "duplicate"}
        row = state_of(sessions, row_id)
        assert row.state is S.READ and row.delivered_at is not None

    def test_failure_keeps_the_providers_error(
        self, app_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """undelivered -> failed, with Twilio's error code on the row."""
        row_id = sent_row(sessions, brands)
        twilio_post(
            app_url, "/webhooks/twilio/status", status("SM1", "undelivered", ErrorCode="63016")
        )
        row = state_of(sessions, row_id)
        assert row.state is S.FAILED and row.last_error == "twilio reported undelivered: 63016"

    def test_bad_signature_is_refused_and_changes_nothing(
        self, app_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A callback signed with another token gets 403; no event is stored."""
        row_id = sent_row(sessions, brands)
        answer = twilio_post(
            app_url, "/webhooks/twilio/status", status("SM1", "delivered"), token="wrong"
        )
        assert answer.status_code == 403
        with loopback_client(app_url) as client:
            unsigned = client.post("/webhooks/twilio/status", data=status("SM1", "delivered"))
        assert unsigned.status_code == 403
        assert state_of(sessions, row_id).state is S.SENT
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(DeliveryEvent)) == 0

    def test_callback_before_the_send_commits_is_applied_after(
        self, app_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Twilio calls back while the dispatcher is still between the send and its commit."""

        class CallsBackAtOnce:
            name, kind, idempotent, rate_per_second = "twilio", ChannelKind.WHATSAPP, False, None

            def send(self, message: OutboundMessage) -> SendResult:
                params = status("SMearly", "delivered")
                assert message.status_callback is not None
                path = message.status_callback.removeprefix(app_url)
                assert twilio_post(app_url, path, params).json() == {"outcome": "waiting"}
                return SendResult(provider="twilio", provider_message_id="SMearly")

            def close(self) -> None:
                pass

        with transaction(sessions) as session:
            rows = brand_rows(session, brands)
            person = add_customer(session, rows["kapas"], channels=("whatsapp",))
            person.last_inbound_whatsapp_at = person.created_at
            row_id = notify(session, rows["kapas"], person).id
        dispatcher = make_dispatcher(
            sessions,
            brands,
            {ChannelKind.WHATSAPP: CallsBackAtOnce()},
            links=Links(public_url=app_url),
        )
        assert dispatcher.run_until_idle().counts == {"sent": 1}
        row = state_of(sessions, row_id)
        assert row.state is S.DELIVERED and row.provider_message_id == "SMearly"

    def test_report_resolves_a_possibly_sent_row(
        self, app_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A row dead as 'possibly sent' that Twilio reports delivered is confirmed, not resent."""
        row_id = sent_row(sessions, brands, provider_message_id=None)
        with transaction(sessions) as session:
            row = session.get(Notification, row_id)
            assert row is not None
            row.state, row.hold_reason = S.DEAD, POSSIBLY_SENT
        path = f"/webhooks/twilio/status?notification={row_id}"
        assert twilio_post(app_url, path, status("SMlost", "delivered")).json() == {
            "outcome": "applied"
        }
        row = state_of(sessions, row_id)
        assert (
            row.state is S.DELIVERED
            and row.hold_reason == CONFIRMED
            and row.provider_message_id == "SMlost"
        )


class TestSendGridEvents:
    def test_signed_events_update_the_row(
        self,
        app_url: str,
        sessions: SessionFactory,
        brands: BrandsFile,
        sendgrid_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        """processed, delivered, open in one batch: the row ends read; a replay is a no-op."""
        row_id = sent_row(sessions, brands, provider_message_id="abc123", channel="email")
        events = [
            {
                "event": name,
                "sg_event_id": f"e-{name}",
                "sg_message_id": "abc123.filter0001",
                "timestamp": 1_700_000_000 + i,
                "tidings_notification_id": str(row_id),
            }
            for i, name in enumerate(["open", "processed", "delivered"])
        ]
        answer = sendgrid_post(app_url, events, sendgrid_key)
        assert answer.status_code == 200 and answer.json() == {"outcomes": {"applied": 3}}
        assert sendgrid_post(app_url, events, sendgrid_key).json() == {"outcomes": {"duplicate": 3}}
        row = state_of(sessions, row_id)
        assert row.state is S.READ and row.delivered_at is not None

    def test_bounce_without_provider_id_matches_by_custom_arg(
        self,
        app_url: str,
        sessions: SessionFactory,
        brands: BrandsFile,
        sendgrid_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        """SendGrid did not return X-Message-Id: the custom arg finds the row, a bounce fails it."""
        row_id = sent_row(sessions, brands, provider_message_id=None, channel="email")
        event = {
            "event": "bounce",
            "sg_event_id": "b1",
            "sg_message_id": "zzz.filter",
            "reason": "550 no such user",
            "tidings_notification_id": str(row_id),
        }
        sendgrid_post(app_url, [event], sendgrid_key)
        row = state_of(sessions, row_id)
        assert row.state is S.FAILED and row.provider_message_id == "zzz"
        assert row.last_error == "sendgrid reported bounce: 550 no such user"

    def test_unsubscribe_event_opts_out(
        self,
        app_url: str,
        sessions: SessionFactory,
        brands: BrandsFile,
        sendgrid_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        """An unsubscribe reported by SendGrid opts the customer out of email."""
        row_id = sent_row(sessions, brands, provider_message_id="m1", channel="email")
        event = {
            "event": "unsubscribe",
            "sg_event_id": "u1",
            "sg_message_id": "m1.x",
            "tidings_notification_id": str(row_id),
        }
        sendgrid_post(app_url, [event], sendgrid_key)
        with sessions() as session:
            consent = session.scalars(
                select(CustomerConsent).where(CustomerConsent.channel == ChannelKind.EMAIL)
            ).one()
        assert consent.opted_in is False and consent.source == "sendgrid unsubscribe"

    def test_bad_signature_is_refused_and_changes_nothing(
        self, app_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Events signed with another key get 403; the row stays as it was."""
        row_id = sent_row(sessions, brands, provider_message_id="abc", channel="email")
        other = ec.generate_private_key(ec.SECP256R1())
        event = {"event": "delivered", "sg_event_id": "d1", "sg_message_id": "abc.f"}
        assert sendgrid_post(app_url, [event], other).status_code == 403
        assert state_of(sessions, row_id).state is S.SENT


def delivered_events(count: int = 1) -> list[dict[str, Any]]:
    """Plain SendGrid 'delivered' events."""
    return [
        {"event": "delivered", "sg_event_id": f"d{i}", "sg_message_id": "abc.f"}
        for i in range(count)
    ]


def nested(depth: int) -> Any:
    """A JSON value ``depth`` lists deep."""
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


def stored_events(sessions: SessionFactory) -> int:
    """How many delivery events are stored."""
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(DeliveryEvent)) or 0


class TestHostileButSigned:
    """Requests with a valid signature and hostile content get 4xx, never 500."""

    @pytest.mark.parametrize("hint", [str(10**30), "0", "-5", "12abc"])
    def test_twilio_notification_hint_that_is_no_row_id(
        self, app_url: str, sessions: SessionFactory, brands: BrandsFile, hint: str
    ) -> None:
        """A hint that cannot be a row id (10**30 overflows the database's integer) is 400."""
        row_id = sent_row(sessions, brands)
        path = f"/webhooks/twilio/status?notification={hint}"
        assert twilio_post(app_url, path, status("SM1", "delivered")).status_code == 400
        assert state_of(sessions, row_id).state is S.SENT and stored_events(sessions) == 0

    def test_twilio_fields_longer_than_twilio_sends(
        self, app_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A MessageSid or status longer than the columns that hold them is 400."""
        for params in (status("SM" + "1" * 500, "delivered"), status("SM1", "d" * 100)):
            assert twilio_post(app_url, "/webhooks/twilio/status", params).status_code == 400
        assert stored_events(sessions) == 0

    @pytest.mark.parametrize(
        "body",
        [
            "[" * 100_000 + "]" * 100_000,
            json.dumps([{"event": "delivered", "sg_message_id": "abc.f", "x": nested(40)}]),
            json.dumps([1, "delivered", None]),
            json.dumps([{"event": ["delivered"], "sg_message_id": "abc.f"}]),
            json.dumps([{"event": "delivered", "sg_message_id": 5}]),
            json.dumps([{"event": "delivered", "tidings_notification_id": str(10**30)}]),
            json.dumps([{"event": "delivered", "sg_event_id": "e" * 500}]),
            json.dumps([{"event": "delivered", "timestamp": "yesterday"}]),
            json.dumps({"event": "delivered"}),
            "not json",
        ],
        ids=[
            "nested-100k",
            "nested-40",
            "not-objects",
            "event-list",
            "message-id-int",
            "huge-hint",
            "long-event-id",
            "timestamp-text",
            "not-array",
            "not-json",
        ],
    )
    def test_sendgrid_bodies_that_are_not_events(
        self,
        app_url: str,
        sessions: SessionFactory,
        brands: BrandsFile,
        sendgrid_key: ec.EllipticCurvePrivateKey,
        body: str,
    ) -> None:
        """Deep nesting, non-object events, wrong types, huge numbers: 400, nothing stored."""
        row_id = sent_row(sessions, brands, provider_message_id="abc", channel="email")
        answer = sendgrid_post(app_url, None, sendgrid_key, body=body)
        assert answer.status_code == 400, answer.text
        assert state_of(sessions, row_id).state is S.SENT and stored_events(sessions) == 0

    @pytest.mark.parametrize("offset", [-3600, -400, 400, 86_400 * 365])
    def test_sendgrid_events_signed_long_ago_or_ahead_are_replays(
        self,
        app_url: str,
        sessions: SessionFactory,
        brands: BrandsFile,
        sendgrid_key: ec.EllipticCurvePrivateKey,
        offset: int,
    ) -> None:
        """A batch signed more than five minutes from now is refused as a replay: 403."""
        row_id = sent_row(sessions, brands, provider_message_id="abc", channel="email")
        answer = sendgrid_post(app_url, delivered_events(), sendgrid_key, at=time.time() + offset)
        assert answer.status_code == 403
        assert state_of(sessions, row_id).state is S.SENT and stored_events(sessions) == 0

    def test_the_replay_window_is_a_setting(
        self,
        engine: Engine,
        sessions: SessionFactory,
        brands: BrandsFile,
        sendgrid_key: ec.EllipticCurvePrivateKey,
        tmp_path: Path,
    ) -> None:
        """With a 30-second window a batch signed a minute ago is refused; one signed now is not."""
        settings = Settings(
            sendgrid={
                "webhook_public_key": public_key_b64(sendgrid_key),
                "webhook_tolerance_seconds": 30,
            },
            outbox_dir=tmp_path,
        )
        sent_row(sessions, brands, provider_message_id="abc", channel="email")
        with serve_app(create_app(settings, engine=engine)) as url:
            late = sendgrid_post(url, delivered_events(), sendgrid_key, at=time.time() - 60)
            fresh = sendgrid_post(url, delivered_events(), sendgrid_key)
        assert late.status_code == 403 and fresh.status_code == 200


class TestConsentEndpoints:
    def test_stop_and_start_replies(
        self, app_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """STOP on WhatsApp opts out and opens the window; START opts back in."""
        with transaction(sessions) as session:
            person = add_customer(
                session, brand_rows(session, brands)["kapas"], channels=("whatsapp",)
            )
        inbound = {
            "From": "whatsapp:+919800000001",
            "To": "whatsapp:+14155238886",
            "MessageSid": "SMin1",
        }
        answer = twilio_post(app_url, "/webhooks/twilio/inbound", {**inbound, "Body": "stop"})
        assert answer.status_code == 200 and "<Response/>" in answer.text
        with sessions() as session:
            consent = session.scalars(select(CustomerConsent)).one()
            customer = session.get(Customer, person.id)
            assert consent.opted_in is False and consent.source == "whatsapp reply stop"
            assert customer is not None and customer.last_inbound_whatsapp_at is not None
        twilio_post(
            app_url, "/webhooks/twilio/inbound", {**inbound, "Body": "START", "MessageSid": "SMin2"}
        )
        with sessions() as session:
            assert session.scalars(select(CustomerConsent.opted_in)).one() is True
        assert (
            twilio_post(
                app_url, "/webhooks/twilio/inbound", {**inbound, "Body": "STOP"}, token="bad"
            ).status_code
            == 403
        )


class TestBehindAProxy:
    def test_signature_over_the_public_url_is_accepted(
        self, engine: Engine, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """Behind a proxy Twilio signs the public URL, not the one the app sees; a signature over
        any other URL is still refused."""
        public = "https://tidings.example.com/"
        settings = Settings(
            twilio={"account_sid": "AC" + "0" * 32, "auth_token": TOKEN},
            web={"secret_key": SECRET, "public_url": public},
            outbox_dir=tmp_path,
        )
        row_id = sent_row(sessions, brands)
        path = f"/webhooks/twilio/status?notification={row_id}"
        params = status("SM1", "delivered")
        with serve_app(create_app(settings, engine=engine)) as url, loopback_client(url) as client:

            def post(signed_url: str) -> int:
                signature = RequestValidator(TOKEN).compute_signature(signed_url, params)
                headers = {"X-Twilio-Signature": signature}
                return client.post(path, data=params, headers=headers).status_code

            assert post("https://elsewhere.example.com" + path) == 403
            assert state_of(sessions, row_id).state is S.SENT
            assert post(public.rstrip("/") + path) == 200
        assert state_of(sessions, row_id).state is S.DELIVERED
