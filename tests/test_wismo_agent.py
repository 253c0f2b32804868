"""Carrier emails and tracking webhooks feed one history and one episode per problem: the
customer hears once, whoever reports first; and a customer who asks hears what we told."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.agent_support import (
    Scripted,
    agent_pipeline,
    brand_row,
    mail,
    receive,
    shipped_order,
    verdict,
    work,
)
from tests.wismo_support import aftership_body, episodes, queued, scanner
from tidings.config import BrandsFile
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import CaseState, Problem, ShipmentStatus, Trigger
from tidings.store.models import Case, Shipment, TrackingEvent
from tidings.wismo import aftership
from tidings.wismo.events import ingest

CARRIER = "Delhivery <ndr@delhivery.com>"


def case_of(sessions: SessionFactory, email_id: int) -> Case:
    with sessions() as session:
        return session.scalars(select(Case).where(Case.email_id == email_id)).one()


def webhook(sessions: SessionFactory, body: bytes) -> str:
    """An AfterShip webhook, applied as the route applies it."""
    with transaction(sessions) as session:
        return ingest(session=session, update=aftership.parse(body)).outcome


class TestOneProblemOneMessage:
    def test_a_carriers_email_then_a_webhook_about_the_same_delay(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """The carrier writes first: its notice opens the parcel's delay episode and goes out;
        AfterShip then reports the delay and the scan finds it: nothing more is sent. Both
        reports are in the parcel's one history."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = shipped_order(session, kapas, "meera@example.com")
            number, tracking = order.number, order.shipments[0].tracking_number
        email_id = receive(sessions, kapas, mail(sender=CARRIER, subject="[delay] AWB", body="x"))
        new_eta = utcnow().date() + timedelta(days=6)
        script = Scripted(
            {
                "[delay]": verdict(
                    "carrier_delay",
                    order_id=number,
                    tracking_number=tracking,
                    requested_date=new_eta,
                )
            }
        )
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
        assert case_of(sessions, email_id).state is CaseState.AUTO_RESOLVED
        body = aftership_body(tracking, tag="Exception", subtag="Exception_005", at=utcnow())
        assert webhook(sessions, body) == "applied"
        assert scanner(sessions, brands, utcnow).scan().enqueued == 0
        [episode] = episodes(sessions)
        assert (episode.problem, episode.trigger) == (Problem.DELAY, Trigger.CARRIER_EMAIL)
        [told] = queued(sessions)
        assert (told.event, told.wismo_episode_id, told.proactive) == ("delayed", episode.id, True)
        assert told.variables["delay"]["new_eta"] == new_eta.isoformat()
        with sessions() as session:
            sources = set(session.scalars(select(TrackingEvent.source)))
        assert sources == {"email", "aftership"}

    def test_a_webhook_then_the_carriers_email_about_the_same_delay(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """AfterShip's new ETA beyond the promise comes first and the scan tells the customer;
        the carrier's email about the same delay then resolves its case without a second
        message."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = shipped_order(session, kapas, "ravi@example.com")
            number, tracking = order.number, order.shipments[0].tracking_number
        later = (utcnow().date() + timedelta(days=8)).isoformat()
        body = aftership_body(tracking, tag="InTransit", courier_eta=later, at=utcnow())
        assert webhook(sessions, body) == "applied"
        assert scanner(sessions, brands, utcnow).scan().enqueued == 1
        email_id = receive(sessions, kapas, mail(sender=CARRIER, subject="[delay] AWB", body="x"))
        script = Scripted(
            {"[delay]": verdict("carrier_delay", order_id=number, tracking_number=tracking)}
        )
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
        assert case_of(sessions, email_id).state is CaseState.AUTO_RESOLVED
        [episode] = episodes(sessions)
        assert episode.trigger is Trigger.ETA_BEYOND_PROMISE
        assert [n.event for n in queued(sessions)] == ["delayed"]

    def test_a_failed_attempt_email_becomes_the_parcels_status(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """The carrier's failed-attempt email is the parcel's newest status; the scan sees the
        same problem and stays quiet."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = shipped_order(session, kapas, "neha@example.com")
            number, tracking = order.number, order.shipments[0].tracking_number
        receive(sessions, kapas, mail(sender=CARRIER, subject="[ndr] AWB", body="x"))
        script = Scripted(
            {"[ndr]": verdict("failed_delivery_attempt", order_id=number, tracking_number=tracking)}
        )
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
        with sessions() as session:
            assert session.scalars(select(Shipment.status)).one() is ShipmentStatus.FAILED_ATTEMPT
        assert scanner(sessions, brands, utcnow).scan().enqueued == 0
        assert [n.event for n in queued(sessions)] == ["failed_attempt"]


class TestInboundAnswer:
    def test_a_customer_asking_during_a_stall_hears_what_we_told_them(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """No scan for nine days: the scan tells the customer it is delayed. When they write
        "where is my order?", the agent's answer is that same delay notice, not "shipped"."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = shipped_order(session, kapas, "asha@example.com")
            order.shipments[0].last_scan_at = utcnow() - timedelta(days=9)
            number = order.number
        assert scanner(sessions, brands, utcnow).scan().enqueued == 1
        raw = mail(sender="asha@example.com", subject="[wismo] where is it", body="x")
        email_id = receive(sessions, kapas, raw)
        script = Scripted({"[wismo]": verdict("wismo", order_id=number)})
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
        assert case_of(sessions, email_id).state is CaseState.AUTO_RESOLVED
        proactive, answer = queued(sessions)
        assert (proactive.event, answer.event) == ("delayed", "delayed")
        assert (proactive.proactive, answer.proactive) == (True, False)
        assert answer.variables["shipment"] == proactive.variables["shipment"]
        assert answer.variables["delay"] == proactive.variables["delay"]
