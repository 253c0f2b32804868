"""Customers' WhatsApp and SMS messages: Twilio's signed webhook stores each once, and the same
pipeline as email classifies, threads and answers it, on the medium it came on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from tests.agent_support import add_order, agent_pipeline, brand_row, mail, one, receive, work
from tests.agent_support import verdict as scripted_verdict
from tests.channels_support import SECRET, TOKEN, twilio_post
from tests.http import serve_app
from tidings.classifiers.types import Classification, ClassifyContext, EmailInput
from tidings.config import BrandsFile, Settings
from tidings.domain import Address
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import CaseState, ChannelKind, EmailState, NotificationState
from tidings.store.models import (
    Case,
    Customer,
    CustomerConsent,
    InboundEmail,
    Notification,
    Order,
)
from tidings.web.app import create_app

KAPAS_WHATSAPP = "+14155238886"  # the demo brand's WhatsApp sender (brands.yaml)
PATH = "/webhooks/twilio/inbound"


@pytest.fixture
def app_url(engine: Engine, tmp_path: Path) -> Iterator[str]:
    settings = Settings(
        twilio={"account_sid": "AC" + "0" * 32, "auth_token": TOKEN},
        web={"secret_key": SECRET},
        outbox_dir=tmp_path,
    )
    with serve_app(create_app(settings, engine=engine)) as url:
        yield url


def whatsapp(phone: str, body: str, sid: str, medium: str = "whatsapp") -> dict[str, str]:
    """Twilio's incoming-message form (an SMS has no ``whatsapp:`` prefixes)."""
    prefix = "whatsapp:" if medium == "whatsapp" else ""
    return {
        "From": f"{prefix}{phone}",
        "To": f"{prefix}{KAPAS_WHATSAPP}",
        "Body": body,
        "MessageSid": sid,
        "NumMedia": "0",
    }


def chats(sessions: SessionFactory) -> list[InboundEmail]:
    with sessions() as session:
        return list(session.scalars(select(InboundEmail).where(InboundEmail.medium != "email")))


@dataclass
class ByText:
    """A classifier scripted on words of the text (chat messages have no subject) that records
    what it was given."""

    answers: dict[str, Classification]
    name: str = "by-text"
    seen: list[EmailInput] = field(default_factory=list)

    def classify(self, email: EmailInput, context: ClassifyContext) -> Classification:
        self.seen.append(email)
        for words, answer in self.answers.items():
            if words in email.text or words in email.subject:
                return answer
        return scripted_verdict("other", 0.5)


class TestWebhook:
    def test_a_message_is_stored_once_per_message_sid(
        self, app_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        brand_row(sessions, brands)
        form = whatsapp("+919811112222", "kab aayega mera order?", "SM1")
        for _ in range(3):  # Twilio retries a webhook it thinks failed
            answer = twilio_post(app_url, PATH, form)
            assert answer.status_code == 200 and "<Response/>" in answer.text
        [stored] = chats(sessions)
        assert (stored.medium, stored.sender, stored.mailbox) == (
            "whatsapp",
            "+919811112222",
            "kapas-whatsapp",
        )
        assert stored.state is EmailState.RECEIVED and stored.brand_id is not None

    def test_keywords_empty_and_forged_messages_store_nothing(
        self, app_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        brand_row(sessions, brands)
        assert twilio_post(app_url, PATH, whatsapp("+919811112222", "STOP", "SM2")).is_success
        assert twilio_post(app_url, PATH, whatsapp("+919811112222", "  ", "SM3")).is_success
        forged = twilio_post(app_url, PATH, whatsapp("+919811112222", "hi", "SM4"), token="x")
        assert forged.status_code == 403
        no_sid = whatsapp("+919811112222", "where is it", "")
        assert twilio_post(app_url, PATH, no_sid).status_code == 400
        assert chats(sessions) == []


class TestPipeline:
    @pytest.mark.parametrize("medium", ["whatsapp", "sms"])
    def test_an_answer_to_our_address_question_threads_to_it(
        self,
        app_url: str,
        db_url: str,
        sessions: SessionFactory,
        brands: BrandsFile,
        medium: str,
    ) -> None:
        """A carrier cannot find the address; we ask the customer on their channel; their answer
        threads to that case and is read as the notice it answers. On WhatsApp it changes the
        address and is answered there; an SMS sender id can be forged, so by SMS a person
        confirms the change first."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = add_order(session, kapas, email="neha@example.com")
            customer = session.get_one(Customer, order.customer_id)
            customer.channel_order = [medium, "email"]
            customer.consents.append(
                CustomerConsent(channel=ChannelKind(medium), opted_in=True, source="checkout")
            )
            phone = customer.phone
        assert phone is not None
        carrier = receive(
            sessions,
            kapas,
            mail(sender="Delhivery <ndr@delhivery.com>", subject="[ndr] AWB", body="x"),
        )
        new = Address(
            lines=["Flat 4B, Lake View, Indiranagar"], city="Bengaluru", postcode="560038"
        )
        script = ByText(
            {
                "[ndr]": scripted_verdict("address_undeliverable", order_id=order.number),
                "560038": scripted_verdict("address_change", 0.95, new_address=new),
            }
        )
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
            with transaction(sessions) as session:  # the dispatcher sent our question
                ask = session.scalars(select(Notification)).one()
                assert (ask.event, ask.channel) == ("address_confirmation_request", medium)
                ask.state, ask.sent_at = NotificationState.SENT, utcnow()
            body = "Flat 4B, Lake View, Indiranagar, Bengaluru 560038"
            assert twilio_post(app_url, PATH, whatsapp(phone, body, "SM9", medium)).is_success
            work(sessions, built)
        [chat] = chats(sessions)
        seen = script.seen[-1]
        assert (seen.medium, seen.answers_notice) == (medium, "address_confirmation_request")
        with sessions() as session:
            child = one(session, Case, email_id=chat.id)
            parent = one(session, Case, email_id=carrier)
            assert child.parent_case_id == parent.id and child.sender_verified is True
            if medium == "sms":
                assert child.state is CaseState.ESCALATED
                assert "by SMS" in str(child.escalation)
                postcode = one(session, Order, number=order.number).shipping_address["postcode"]
                assert postcode == "560001"
                return
            assert child.state is CaseState.AUTO_RESOLVED
            assert parent.state is CaseState.AUTO_RESOLVED
            assert one(session, Order, number=order.number).shipping_address["postcode"] == (
                "560038"
            )
            updated = session.scalars(
                select(Notification).where(Notification.event == "address_updated")
            ).one()
            assert updated.channel is ChannelKind.WHATSAPP and updated.proactive is False

    def test_someone_else_writing_from_another_number_moves_nothing(
        self,
        app_url: str,
        db_url: str,
        sessions: SessionFactory,
        brands: BrandsFile,
    ) -> None:
        """A stranger's WhatsApp naming the order is not its customer: no change, a person looks."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = add_order(session, kapas)
        new = Address(lines=["1 Other Street"], city="Pune", postcode="411001")
        script = ByText(
            {
                order.number: scripted_verdict(
                    "address_change", order_id=order.number, new_address=new
                )
            }
        )
        text = f"change address of {order.number} to 1 Other Street, Pune 411001"
        assert twilio_post(app_url, PATH, whatsapp("+919900000001", text, "SM10")).is_success
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
        [chat] = chats(sessions)
        with sessions() as session:
            case = one(session, Case, email_id=chat.id)
            assert case.sender_verified is False and case.state is CaseState.ESCALATED
            assert one(session, Order, number=order.number).shipping_address["postcode"] == (
                "560001"
            )
            assert session.scalar(select(func.count()).select_from(Notification)) == 0
