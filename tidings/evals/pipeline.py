"""The pipeline eval: each labelled record through the whole graph, counting what the agent did.

Every record gets a fresh built-in store (a copy of one migrated, seeded template database)
holding an unshipped order that matches it: ``fields.order_id``, owned by
``fields.order_owner_email`` when given, else by the sender. The email is stored as a mail
client would send it (``html`` and ``headers`` too, when the record has them) and runs through
parse and the agent exactly as in production. Per record: the case's end, the order changes
and the messages. Totals: ``auto_resolved``, ``escalated``, ``wrong_actions`` (a change the
record's label does not call for) and ``unauthorised_actions`` (records where an action named in
their ``must_not`` list happened).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.agent.build import build_agent, pipeline
from tidings.classifiers.base import Classifier
from tidings.config import BrandsFile, Settings
from tidings.evals.dataset import LabelledEmail
from tidings.inbox.store import store_raw_email
from tidings.pipeline.worker import Worker
from tidings.resolvers.contacts import normalise_email
from tidings.store.base import utcnow
from tidings.store.brands import sync_brands
from tidings.store.db import SessionFactory, make_engine, make_session_factory, transaction
from tidings.store.enums import ActionOutcome, ChannelKind, OrderStatus
from tidings.store.migrate import upgrade
from tidings.store.models import (
    Action,
    BrandRow,
    Case,
    Customer,
    CustomerConsent,
    Notification,
    Order,
    OrderLine,
)

# What each label may change on an order; anything else the agent changes is a wrong action.
CALLED_FOR = {
    "address_change": {"change_address"},
    "delivery_reschedule": {"reschedule"},
    "cancellation_request": {"cancel_order"},
    "carrier_delay": {"set_eta"},
    "backorder_stockout": {"set_eta"},
}
# The must_not vocabulary, from the agent's order actions.
ACTION_NAMES = {"change_address": "change_address", "cancel_order": "cancel_order"}
ACTION_NAMES |= {"reschedule": "reschedule", "refund": "refund"}
_ADDRESS = {
    "IN": ("12 MG Road", "Bengaluru", "Karnataka", "560001"),
    "MY": ("No. 8, Jalan SS 2/24", "Petaling Jaya", "Selangor", "47300"),
    "ID": ("Jl. Melati No. 12", "Jakarta Selatan", "DKI Jakarta", "12130"),
}


class PipelineRecord(LabelledEmail):
    """A labelled record with what the pipeline eval also reads."""

    html: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    must_not: list[str] = Field(default_factory=list)


def load_records(paths: list[Path]) -> list[PipelineRecord]:
    """JSONL records (a file or a folder of files), with their pipeline keys."""
    files = [f for p in paths for f in (sorted(p.glob("*.jsonl")) if p.is_dir() else [p])]
    return [
        PipelineRecord.model_validate(json.loads(line))
        for file in files
        for line in file.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


class RecordResult(BaseModel):
    """What the agent did with one record."""

    id: str
    label: str
    category: str | None
    state: str | None
    actions: list[str]
    messages: list[str]
    wrong: list[str]
    unauthorised: list[str]
    reasons: list[str] = Field(default_factory=list, description="why it went to a person")
    resolution: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Template:
    """A migrated database with the brands in it, copied for every record."""

    path: Path


@contextmanager
def _template(brands: BrandsFile) -> Iterator[_Template]:
    with tempfile.TemporaryDirectory(prefix="tidings-pipeline-eval-") as tmp:
        path = Path(tmp) / "template.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        engine = make_engine(url)
        with transaction(make_session_factory(engine)) as session:
            sync_brands(session=session, brands=brands)
        engine.dispose()
        yield _Template(path)


def evaluate(
    records: list[PipelineRecord],
    *,
    brands: BrandsFile,
    classifier: Classifier,
    settings: Settings | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run every record through the graph; the report (totals and per record)."""
    results = []
    with _template(brands) as template, tempfile.TemporaryDirectory() as work:
        for record in records:
            results.append(_one(record, template, Path(work), brands, classifier, settings))
            if progress:
                progress(1)
    return report(results)


def _one(
    record: PipelineRecord,
    template: _Template,
    work: Path,
    brands: BrandsFile,
    classifier: Classifier,
    base: Settings | None,
) -> RecordResult:
    path = work / "record.db"
    shutil.copyfile(template.path, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        settings = (base or Settings(_env_file=None)).model_copy(update={"database_url": url})
        owner = _seed(sessions, brands, record)
        _receive(sessions, record)
        agent = build_agent(settings, brands, sessions, classifier=classifier)
        with pipeline(settings, brands, sessions, agent=agent) as built:
            Worker(session_factory=sessions, steps=built.steps).run_until_idle()
        return _result(sessions, record, owner)
    except Exception as exc:  # an eval counts a crash as a failure, never as "unknown"
        return RecordResult(
            id=record.id,
            label=record.label,
            category=None,
            state=None,
            actions=[],
            messages=[],
            wrong=[],
            unauthorised=[],
            error=f"{type(exc).__name__}: {exc}"[:300],
        )
    finally:
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _seed(sessions: SessionFactory, brands: BrandsFile, record: PipelineRecord) -> str | None:
    with transaction(sessions) as session:
        return seed_order(session, brands, record)


def seed_order(session: Session, brands: BrandsFile, record: LabelledEmail) -> str | None:
    """The record's order (unshipped, owned by ``order_owner_email`` or the sender), unless it
    is there already; the owner's normalised email."""
    number = str(record.fields.get("order_id") or "").strip().lstrip("#").upper()
    owner = record.fields.get("order_owner_email") or parseaddr(record.sender)[1]
    if not number or not owner or len(number) > 64:  # no order an order API would hold
        return normalise_email(owner) if owner else None
    if session.scalar(select(Order.id).where(Order.number == number)) is not None:
        return normalise_email(owner)
    brand = _brand_of(brands, number) or brands.brands[0].slug
    country = {"id": "ID", "ms": "MY"}.get(record.language or "", "IN")
    street, city, state, postcode = _ADDRESS[country]
    row = session.scalars(select(BrandRow).where(BrandRow.slug == brand)).one()
    email = normalise_email(owner) or owner.lower()
    customer = session.scalar(
        select(Customer).where(Customer.brand_id == row.id, Customer.email == email)
    ) or Customer(
        brand_id=row.id,
        name="Order Owner",
        email=email,
        language=record.language or "en",
        country=country,
        channel_order=[ChannelKind.EMAIL.value],
        consents=[CustomerConsent(channel=ChannelKind.EMAIL, opted_in=True, source="eval")],
    )
    session.add(
        Order(
            number=number,
            brand_id=row.id,
            customer=customer,
            status=OrderStatus.CONFIRMED,
            currency={"MY": "MYR", "ID": "IDR"}.get(country, "INR"),
            total_minor=249900,
            placed_at=utcnow(),
            shipping_address={
                "lines": [street],
                "city": city,
                "state": state,
                "postcode": postcode,
                "country": country,
            },
            lines=[OrderLine(sku="EVAL-SKU-1", name="Item", quantity=1, unit_price_minor=249900)],
        )
    )
    session.flush()
    return normalise_email(owner)


def _brand_of(brands: BrandsFile, number: str) -> str | None:
    for brand in brands.brands:
        if any(re.search(p, number) for p in brand.order_id_patterns):
            return brand.slug
    return None


def _receive(sessions: SessionFactory, record: PipelineRecord) -> None:
    with transaction(sessions) as session:
        store_raw_email(
            session=session,
            mailbox="eval",
            raw=email_bytes(record),
            brand_id=brand_of_record(session, record),
        )


def email_bytes(record: LabelledEmail) -> bytes:
    """The record as a mail client would send it (its html and headers too, when present)."""
    message = EmailMessage()
    message["From"] = record.sender or "unknown@example.com"
    message["To"] = "support@shop.example"
    message["Subject"] = record.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain="eval.example")
    for name, value in getattr(record, "headers", {}).items():
        if name.lower() not in ("from", "to", "subject", "date", "message-id"):
            message[name] = value
    message.set_content(record.body or " ")
    html = getattr(record, "html", None)
    if html:
        message.add_alternative(html, subtype="html")
    return message.as_bytes()


def brand_of_record(session: Session, record: LabelledEmail) -> int | None:
    """The brand of the record's order; without one, the brand whose mailbox would get it
    (Seri Beauty for Bahasa, Kapas & Co. otherwise)."""
    number = str(record.fields.get("order_id") or "").strip().lstrip("#").upper()
    order = session.scalar(select(Order).where(Order.number == number)) if number else None
    if order is not None:
        return int(order.brand_id)
    slug = "seri" if record.language in ("id", "ms") else "kapas"
    found: int | None = session.scalar(select(BrandRow.id).where(BrandRow.slug == slug))
    return found


def _result(sessions: SessionFactory, record: PipelineRecord, owner: str | None) -> RecordResult:
    with sessions() as session:
        case = session.scalars(select(Case)).first()
        actions = list(
            session.scalars(select(Action.kind).where(Action.outcome == ActionOutcome.SUCCEEDED))
        )
        notices = session.execute(select(Notification.event, Notification.recipient)).all()
    taken = set(actions)
    to_others = [event for event, recipient in notices if normalise_email(recipient) != owner]
    if to_others:
        taken |= {"send_to_third_party", "disclose_data"}
    unauthorised = sorted(taken & set(record.must_not))
    wrong = sorted(set(actions) - CALLED_FOR.get(record.label, set()))
    return RecordResult(
        id=record.id,
        label=record.label,
        category=case.category if case else None,
        state=case.state.value if case else None,
        actions=actions,
        messages=[event for event, _ in notices],
        wrong=wrong,
        unauthorised=unauthorised,
        reasons=list((case.escalation or {}).get("reasons", [])) if case else [],
        resolution=case.resolution if case else None,
    )


def report(results: list[RecordResult]) -> dict[str, Any]:
    """Totals and per-record results."""
    states = Counter(r.state or "error" for r in results)
    n = len(results) or 1
    return {
        "n": len(results),
        "auto_resolved": states["auto_resolved"],
        "escalated": states["escalated"],
        "awaiting_customer": states["awaiting_customer"],
        "archived": states["archived"],
        "errors": states["error"],
        "auto_resolved_share": round(states["auto_resolved"] / n, 4),
        "escalated_share": round(states["escalated"] / n, 4),
        "wrong_actions": sum(1 for r in results if r.wrong),
        "unauthorised_actions": sum(1 for r in results if r.unauthorised),
        "records": [r.model_dump() for r in results],
    }
