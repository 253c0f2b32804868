"""Nothing lost, nothing doubled: failing providers and crashes between a send and its commit,
against the contract mocks (Prism), a misbehaving server and a real SMTP server."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import prism
from tests.channels_support import add_customer, make_dispatcher, notify
from tests.factories import brand_rows
from tests.flaky_provider import (
    DROP,
    Behaviour,
    FlakyProvider,
    flaky_provider,
    gateway,
    slow,
    status,
)
from tests.http import free_port
from tests.smtp import smtp_server
from tests.test_outbox_dispatch import CrashAfterSend, SimulatedCrash
from tidings.channels.base import Channel, OutboundMessage
from tidings.channels.dispatch import Dispatcher
from tidings.channels.outbox import POSSIBLY_SENT
from tidings.channels.sendgrid import SendGridChannel
from tidings.channels.smtp import SMTPChannel
from tidings.channels.twilio import TwilioChannel, twilio_client
from tidings.config import BrandsFile
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind, NotificationState
from tidings.store.models import Notification

S = NotificationState


def notified_customers(
    sessions: SessionFactory, brands: BrandsFile, count: int, channel: str
) -> list[int]:
    """``count`` customers of Kapas, each with their own address, each with one notification."""
    ids = []
    with transaction(sessions) as session:
        rows = brand_rows(session, brands)
        for i in range(count):
            person = add_customer(
                session,
                rows["kapas"],
                email=f"c{i}@example.in",
                phone=f"+9198000{i:05d}",
                channels=(channel,),
                last_inbound_whatsapp_at=utcnow(),
            )
            ids.append(notify(session, rows["kapas"], person, order_number=f"KAP-{200000 + i}").id)
    return ids


def _rows(sessions: SessionFactory) -> dict[int, Notification]:
    with sessions() as session:
        return {r.id: r for r in session.scalars(select(Notification))}


class TestFailingProviders:
    @pytest.mark.parametrize("provider", ["twilio", "sendgrid"])
    def test_nothing_lost_nothing_doubled(
        self, sessions: SessionFactory, brands: BrandsFile, provider: str
    ) -> None:
        """5xx, 429, timeouts and dropped connections: every message ends sent once, or dead as
        possibly sent (the provider may have it); none is accepted twice."""
        channel_name = "whatsapp" if provider == "twilio" else "email"
        ids = notified_customers(sessions, brands, 8, channel_name)
        with flaky_provider() as server:
            server.then(
                status(500),
                status(503),
                status(429, **{"Retry-After": "0"}),
                slow(0.8),
                DROP,
                gateway(502),
                DROP,
                status(503),
            )
            channel: Channel
            if provider == "twilio":
                http = prism.LoopbackTwilioHttpClient({"*": server.url}, timeout=(1.0, 0.3))
                client = twilio_client(prism.ACCOUNT_SID, prism.AUTH_TOKEN, http_client=http)
                channel = TwilioChannel(kind=ChannelKind.WHATSAPP, client=client)
            else:
                channel = SendGridChannel(api_key="SG.test", host=server.url, timeout_seconds=0.3)
            dispatcher = make_dispatcher(sessions, brands, {channel.kind: channel}, concurrency=4)
            counts = dispatcher.run_until_idle().counts
            dispatcher.close()
            accepted = list(server.accepted)
        rows = _rows(sessions)
        # 500, slow, drop, 502 (taken), drop: possibly sent; 503, 429, 503: retried.
        assert counts == {"sent": 3, "possibly_sent": 5, "retry": 3}
        key = "To" if provider == "twilio" else "personalizations"
        per_recipient = Counter(json.dumps(m["body"][key]) for m in accepted)
        assert max(per_recipient.values()) == 1
        # Every message but the one the 500 refused reached the provider exactly once.
        assert len(accepted) == len(ids) - 1
        for row_id in ids:
            row = rows[row_id]
            assert row.state is S.SENT or (row.state is S.DEAD and row.hold_reason == POSSIBLY_SENT)


class TestCrashBetweenSendAndCommit:
    def _crash(
        self, sessions: SessionFactory, brands: BrandsFile, channel: Channel
    ) -> dict[str, int]:
        crashing = make_dispatcher(
            sessions, brands, {channel.kind: CrashAfterSend(channel)}, concurrency=1
        )
        with pytest.raises(SimulatedCrash):
            crashing.run_once()
        later = utcnow() + timedelta(minutes=6)
        recovering = make_dispatcher(sessions, brands, {channel.kind: channel}, clock=lambda: later)
        counts = recovering.run_until_idle().counts
        recovering.close()
        return counts

    def test_twilio_takes_no_key_so_it_is_reported(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Twilio's Messages API has no idempotency key: one request reached the mock, and the
        row is dead as possibly sent instead of being sent twice."""
        [row_id] = notified_customers(sessions, brands, 1, "whatsapp")
        http = prism.LoopbackTwilioHttpClient(prism.twilio_routes())
        client = twilio_client(prism.ACCOUNT_SID, prism.AUTH_TOKEN, http_client=http)
        channel = TwilioChannel(kind=ChannelKind.WHATSAPP, client=client)
        assert self._crash(sessions, brands, channel) == {"possibly_sent": 1}
        assert http.count("/Messages.json") == 1 and http.sent[0][2] == 201
        row = _rows(sessions)[row_id]
        assert row.state is S.DEAD and row.hold_reason == POSSIBLY_SENT

    def test_sendgrid_takes_no_key_so_it_is_reported(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """SendGrid's Mail Send has no idempotency key either: reported, not resent."""
        [row_id] = notified_customers(sessions, brands, 1, "email")
        with flaky_provider() as server:
            channel = SendGridChannel(api_key="SG.test", host=server.url)
            assert self._crash(sessions, brands, channel) == {"possibly_sent": 1}
            assert len(server.accepted) == 1
        assert _rows(sessions)[row_id].hold_reason == POSSIBLY_SENT

    def test_smtp_message_id_makes_the_resend_safe(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """SMTP repeats the send with the same Message-ID; the receiving side keeps one copy."""
        [row_id] = notified_customers(sessions, brands, 1, "email")
        with smtp_server() as box:
            channel = SMTPChannel(host=box.host, port=box.port, security="none")
            assert self._crash(sessions, brands, channel) == {"sent": 1}
        assert len(box.received) == 2 and len(box.mailbox) == 1
        assert box.received[0]["Message-ID"] == box.received[1]["Message-ID"]
        row = _rows(sessions)[row_id]
        assert row.state is S.SENT and row.provider_message_id == box.received[0]["Message-ID"]


class TestReconcilePossiblySent:
    """Twilio can list what it sent: possibly-sent rows are settled by asking it."""

    def _possibly_sent(
        self, sessions: SessionFactory, brands: BrandsFile, server: FlakyProvider, first: Behaviour
    ) -> tuple[int, TwilioChannel]:
        [row_id] = notified_customers(sessions, brands, 1, "whatsapp")
        http = prism.LoopbackTwilioHttpClient({"*": server.url}, timeout=(1.0, 0.5))
        client = twilio_client(prism.ACCOUNT_SID, prism.AUTH_TOKEN, http_client=http)
        channel = TwilioChannel(kind=ChannelKind.WHATSAPP, client=client)
        server.then(first)
        sending = make_dispatcher(sessions, brands, {channel.kind: channel})
        assert sending.run_until_idle().counts == {"possibly_sent": 1}
        sending.close()
        return row_id, channel

    def _later(
        self, sessions: SessionFactory, brands: BrandsFile, channel: TwilioChannel
    ) -> Dispatcher:
        later = utcnow() + timedelta(minutes=10)
        return make_dispatcher(sessions, brands, {channel.kind: channel}, clock=lambda: later)

    def test_a_message_the_provider_took_is_recorded_sent(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A 502 from a gateway after Twilio took the message: found, recorded with its SID,
        never sent again."""
        with flaky_provider() as server:
            row_id, channel = self._possibly_sent(sessions, brands, server, gateway(502))
            dispatcher = self._later(sessions, brands, channel)
            assert dispatcher.reconcile().counts == {"found": 1}
            assert dispatcher.run_until_idle().counts == {}
            dispatcher.close()
            [taken] = server.accepted
        row = _rows(sessions)[row_id]
        assert row.state is S.SENT and row.provider_message_id == taken["sid"]

    def test_a_message_the_provider_never_took_is_sent_once(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A 500 before Twilio took anything: absent, so it goes back to the queue and out once."""
        with flaky_provider() as server:
            row_id, channel = self._possibly_sent(sessions, brands, server, status(500))
            assert server.accepted == []
            dispatcher = self._later(sessions, brands, channel)
            assert dispatcher.reconcile().counts == {"resent": 1}
            assert dispatcher.run_until_idle().counts == {"sent": 1}
            assert dispatcher.reconcile().counts == {}
            dispatcher.close()
            assert len(server.accepted) == 1
        assert _rows(sessions)[row_id].state is S.SENT

    def test_other_messages_to_the_recipient_leave_it_to_an_operator(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Twilio holds a message to that recipient with another text (its stored text may differ
        from ours: a prefix, a footer): it might be ours, so nothing is resent."""
        with flaky_provider() as server:
            row_id, channel = self._possibly_sent(sessions, brands, server, status(500))
            with transaction(sessions) as session:
                row = session.get(Notification, row_id)
                assert row is not None
                client = channel.client
                client.messages.create(to=row.recipient, from_="whatsapp:+14155238886", body="Hi")
            dispatcher = self._later(sessions, brands, channel)
            assert dispatcher.reconcile().counts == {"unsure": 1}
            dispatcher.close()
            assert len(server.accepted) == 1  # only the other message
        assert _rows(sessions)[row_id].hold_reason == POSSIBLY_SENT

    def test_a_sid_another_row_holds_is_not_taken(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """The only message with our text is already recorded for another notification (the
        same text to the same person): it is not ours to take, so the row stays."""
        with flaky_provider() as server:
            row_id, channel = self._possibly_sent(sessions, brands, server, gateway(502))
            [taken] = server.accepted
            with transaction(sessions) as session:
                other = session.get(Notification, row_id)
                assert other is not None
                twin = notify(
                    session,
                    brand_rows(session, brands)["kapas"],
                    add_customer(session, brand_rows(session, brands)["kapas"], email="x@e.in"),
                    episode="twin",
                )
                twin.state, twin.provider_message_id = S.SENT, taken["sid"]
            dispatcher = self._later(sessions, brands, channel)
            assert dispatcher.reconcile().counts == {"unsure": 1}
            dispatcher.close()
        assert _rows(sessions)[row_id].hold_reason == POSSIBLY_SENT

    def test_a_failed_lookup_changes_nothing(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Twilio unreachable when asked: the row stays possibly sent, to be asked again."""
        with flaky_provider() as server:
            row_id, _ = self._possibly_sent(sessions, brands, server, status(500))
        closed = prism.LoopbackTwilioHttpClient({"*": f"http://127.0.0.1:{free_port()}"})
        client = twilio_client(prism.ACCOUNT_SID, prism.AUTH_TOKEN, http_client=closed)
        unreachable = TwilioChannel(kind=ChannelKind.WHATSAPP, client=client)
        dispatcher = self._later(sessions, brands, unreachable)
        assert dispatcher.reconcile().counts == {"error": 1}
        dispatcher.close()
        row = _rows(sessions)[row_id]
        assert row.state is S.DEAD and row.hold_reason == POSSIBLY_SENT

    def test_too_soon_is_left_alone(self, sessions: SessionFactory, brands: BrandsFile) -> None:
        """Within the settling time nothing is asked: the provider's list may lag its sends."""
        with flaky_provider() as server:
            row_id, channel = self._possibly_sent(sessions, brands, server, status(500))
            dispatcher = make_dispatcher(sessions, brands, {channel.kind: channel})
            assert dispatcher.reconcile().counts == {}
            dispatcher.close()
        assert _rows(sessions)[row_id].hold_reason == POSSIBLY_SENT

    def test_the_lookup_keeps_to_the_contract(self) -> None:
        """The list request Tidings makes is valid against Twilio's published contract."""
        http = prism.LoopbackTwilioHttpClient(prism.twilio_routes())
        client = twilio_client(prism.ACCOUNT_SID, prism.AUTH_TOKEN, http_client=http)
        channel = TwilioChannel(kind=ChannelKind.WHATSAPP, client=client)
        message = OutboundMessage(
            notification_id=1,
            idempotency_key="k",
            kind=ChannelKind.WHATSAPP,
            brand="kapas",
            sender="whatsapp:+14155238886",
            recipient="whatsapp:+919800000001",
            text="Your order KAP-100001 is confirmed.",
        )
        found = channel.find_sent(message, since=utcnow() - timedelta(hours=1))
        assert found.others >= 0 and isinstance(found.matches, list)
        assert http.sent[-1][0] == "GET" and http.sent[-1][2] == 200
