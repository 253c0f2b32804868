"""Helpers for agent tests: orders, emails as mail clients write them, a scripted classifier,
and the pipeline run the way a worker runs it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.agent.build import Pipeline, build_agent, pipeline
from tidings.agent.draft import TemplateDrafter
from tidings.classifiers.taxonomy import load_taxonomy
from tidings.classifiers.types import (
    Classification,
    ClassifyContext,
    EmailInput,
    ExtractedFields,
)
from tidings.config import BrandsFile, Settings
from tidings.inbox.store import store_raw_email
from tidings.pipeline.worker import RunReport, Worker
from tidings.store.base import utcnow
from tidings.store.brands import sync_brands
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind, OrderStatus, ShipmentStatus
from tidings.store.models import (
    BrandRow,
    Customer,
    CustomerConsent,
    Order,
    OrderLine,
    Shipment,
)

REPLIES = {
    category: {"en": f"About {category} for order {{{{ order.number }}}}: our team will reply."}
    for category in load_taxonomy().names
}
_numbers = itertools.count(1)


@dataclass
class Scripted:
    """A classifier that answers what the test says, keyed by a tag in the subject."""

    answers: dict[str, Classification] = field(default_factory=dict)
    name: str = "scripted"
    calls: int = 0

    def classify(self, email: EmailInput, context: ClassifyContext) -> Classification:
        """The scripted answer for the first tag found in the subject."""
        self.calls += 1
        for tag, answer in self.answers.items():
            if tag in email.subject:
                return answer
        return verdict("other", 0.5)


def verdict(label: str, confidence: float = 0.99, **fields: Any) -> Classification:
    """A classification with extracted fields."""
    return Classification(
        label=label,
        confidence=confidence,
        language=fields.pop("language", "en"),
        fields=ExtractedFields(**fields),
        classifier="scripted",
        needs_review=confidence < 0.9,
    )


def add_order(
    session: Session,
    brand: BrandRow,
    *,
    status: OrderStatus = OrderStatus.CONFIRMED,
    email: str | None = None,
    language: str = "en",
    shipped: ShipmentStatus | None = None,
    eta: date | None = None,
    placed: datetime | None = None,
) -> Order:
    """An order of a new customer of ``brand`` (and a parcel when ``shipped``)."""
    n = next(_numbers)
    prefix = {"kapas": "KAP-9", "seri": "SERI-9", "griha": "GRH-9"}[brand.slug]
    number = f"{prefix}{n:05d}" if brand.slug != "seri" else f"SERI-{90000 + n}"
    customer = Customer(
        brand_id=brand.id,
        name="Meera Iyer",
        email=email or f"customer{n}@example.com",
        phone=f"+9198{n:08d}",
        language=language,
        time_zone="Asia/Kolkata",
        country="IN",
        channel_order=["email"],
    )
    customer.consents.append(CustomerConsent(channel=ChannelKind.EMAIL, opted_in=True, source="t"))
    order = Order(
        number=number,
        brand_id=brand.id,
        customer=customer,
        status=status,
        currency="INR",
        total_minor=249900,
        placed_at=placed or utcnow() - timedelta(hours=3),
        promised_date=utcnow().date() + timedelta(days=4),
        shipping_address={
            "lines": ["12 MG Road"],
            "city": "Bengaluru",
            "state": "Karnataka",
            "postcode": "560001",
            "country": "IN",
        },
        lines=[
            OrderLine(sku="KAP-KRT-014", name="Kurta", quantity=1, unit_price_minor=149900),
            OrderLine(sku="KAP-DPT-002", name="Dupatta", quantity=1, unit_price_minor=100000),
        ],
    )
    if shipped is not None:
        order.shipments.append(
            Shipment(
                carrier="Delhivery",
                tracking_number=f"2384710{n:06d}",
                status=shipped,
                skus=["KAP-KRT-014", "KAP-DPT-002"],
                shipped_at=utcnow() - timedelta(days=1),
                promised_date=eta or utcnow().date() + timedelta(days=3),
                eta=eta or utcnow().date() + timedelta(days=3),
            )
        )
    session.add(order)
    session.flush()
    return order


def shipped_order(session: Session, brand: BrandRow, email: str) -> Order:
    """An order of ``email``'s with a parcel in transit."""
    return add_order(
        session,
        brand,
        email=email,
        status=OrderStatus.SHIPPED,
        shipped=ShipmentStatus.IN_TRANSIT,
    )


def mail(
    *,
    sender: str,
    subject: str,
    body: str,
    to: str = "support@kapas.example",
    in_reply_to: str | None = None,
    html: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """An email as a mail client sends it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain="mail.example.com")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    return message.as_bytes()


def receive(sessions: SessionFactory, brand: BrandRow, raw: bytes) -> int:
    """Store an email for ``brand``'s mailbox; its id."""
    with transaction(sessions) as session:
        stored = store_raw_email(
            session=session, mailbox=f"{brand.slug}-support", raw=raw, brand_id=brand.id
        )
    assert stored.email_id is not None
    return stored.email_id


def brand_row(sessions: SessionFactory, brands: BrandsFile, slug: str = "kapas") -> BrandRow:
    """The brand's row (brands synced)."""
    with transaction(sessions) as session:
        return sync_brands(session=session, brands=brands)[slug]


@contextmanager
def agent_pipeline(
    db_url: str,
    sessions: SessionFactory,
    brands: BrandsFile,
    classifier: Any,
    **settings: Any,
) -> Iterator[Pipeline]:
    """The pipeline as a worker builds it, with a scripted classifier and template drafts."""
    config = Settings(_env_file=None, database_url=db_url, **settings)  # type: ignore[call-arg]
    agent = build_agent(
        config, brands, sessions, classifier=classifier, drafter=TemplateDrafter(REPLIES)
    )
    with pipeline(config, brands, sessions, agent=agent) as built:
        yield built


def work(sessions: SessionFactory, built: Pipeline) -> RunReport:
    """Run every step until nothing is due."""
    return Worker(session_factory=sessions, steps=built.steps).run_until_idle()


def one(session: Session, model: type[Any], **where: Any) -> Any:
    """The single row matching ``where``."""
    query = select(model).filter_by(**where)
    return session.scalars(query).one()
