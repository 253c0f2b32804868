"""Everything the case page shows, in one read: the trail of ``tidings cases show``
(``tidings.agent.trail``), the email as sent (HTML made safe), its thread, the order and its
parcels, and the reply as each channel would send it.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.agent.decisions import pending_decision
from tidings.agent.notify import reply_variables
from tidings.agent.state import Decision
from tidings.agent.trail import CaseDetails, case_details
from tidings.channels.compose import sender_of
from tidings.channels.render import Renderer
from tidings.config.brands import Brand, BrandsFile
from tidings.errors import TidingsError
from tidings.logs import get_logger
from tidings.resolvers.order_api import OrderAPI, OrderView, ShipmentView
from tidings.store.base import utcnow
from tidings.store.enums import CaseState, ChannelKind
from tidings.store.models import Case, InboundEmail, Notification
from tidings.web.emailview import email_html

log = get_logger(__name__)
THREAD_TEXT_CHARS = 1500
MAX_THREAD_CASES = 20
# Email first, the usual medium; a reply goes out where the customer wrote.
PREVIEW_CHANNELS = (ChannelKind.EMAIL, ChannelKind.WHATSAPP, ChannelKind.SMS)


class ThreadEntry(BaseModel):
    """An email in (``inbound``) or a message out (``outbound``) on the case's thread."""

    at: datetime
    direction: str
    case_id: int | None
    who: str
    subject: str | None
    text: str
    state: str
    current: bool


class OrderContext(BaseModel):
    """The order the case is about, and its parcels, as the order API has them now."""

    order: OrderView | None
    shipments: list[ShipmentView]
    error: str | None = None


class CaseFile(BaseModel):
    """The case page (``GET /api/cases/{id}``)."""

    case: CaseDetails
    received_at: datetime | None
    due_at: datetime | None
    overdue: bool
    priority: int
    pending: Decision | None
    email_to: list[str]
    email_html: str | None
    blocked_images: int
    attachments: list[str]
    thread: list[ThreadEntry]
    order: OrderContext | None
    waiting: bool


class Preview(BaseModel):
    """The reply as one channel would send it, or why it cannot go that way."""

    channel: ChannelKind
    sender: str | None
    subject: str | None
    text: str | None
    error: str | None


def case_file(session: Session, case_id: int, orders: OrderAPI) -> CaseFile:
    """The case page's contents; ``TidingsError`` for an unknown case."""
    details = case_details(session, case_id)
    case = session.get_one(Case, case_id)
    email = session.get(InboundEmail, case.email_id) if case.email_id else None
    parsed: dict[str, Any] = (email.parsed if email else None) or {}
    # WhatsApp and SMS messages are stored as Twilio's fields, not MIME: their text is shown.
    safe = email_html(email.raw) if email is not None and email.medium == "email" else None
    now = utcnow()
    return CaseFile(
        case=details,
        received_at=email.received_at if email else None,
        due_at=case.due_at,
        overdue=case.due_at is not None and case.due_at < now,
        priority=case.priority,
        pending=pending_decision(session, case_id),
        email_to=[_address(m) for m in parsed.get("to") or []],
        email_html=safe.html if safe else None,
        blocked_images=safe.blocked if safe else 0,
        attachments=[str(a.get("filename") or a.get("content_type")) for a in _attachments(parsed)],
        thread=thread(session, case),
        order=order_context(orders, case.order_number),
        waiting=case.state is CaseState.ESCALATED,
    )


def thread(session: Session, case: Case) -> list[ThreadEntry]:
    """The emails and messages of the case and the cases it replies to or that reply to it,
    oldest first."""
    ids = _thread_cases(session, case)
    entries: list[ThreadEntry] = []
    emails = session.execute(
        select(Case.id, InboundEmail.received_at, InboundEmail.sender, InboundEmail.subject)
        .add_columns(InboundEmail.parsed, Case.state)
        .join(InboundEmail, InboundEmail.id == Case.email_id)
        .where(Case.id.in_(ids))
    ).all()
    for row in emails:
        text = str((row.parsed or {}).get("text") or "")
        entries.append(
            ThreadEntry(
                at=row.received_at,
                direction="inbound",
                case_id=row.id,
                who=row.sender or "unknown sender",
                subject=row.subject,
                text="" if row.id == case.id else text[:THREAD_TEXT_CHARS],
                state=row.state.value,
                current=row.id == case.id,
            )
        )
    for note in session.scalars(select(Notification).where(Notification.case_id.in_(ids))):
        entries.append(
            ThreadEntry(
                at=note.sent_at or note.created_at,
                direction="outbound",
                case_id=note.case_id,
                who=f"{note.event.replace('_', ' ')} by {note.channel.value} to {note.recipient}",
                subject=note.subject,
                text=(note.body or "(rendered when it is sent)")[:THREAD_TEXT_CHARS],
                state=note.state.value,
                current=False,
            )
        )
    return sorted(entries, key=lambda e: e.at)


def order_context(orders: OrderAPI, number: str | None) -> OrderContext | None:
    """The order and its parcels; an order API that fails shows why instead of the page
    failing."""
    if not number:
        return None
    try:
        order = orders.get_order(number)
        shipments = orders.list_shipments(number) if order is not None else []
    except TidingsError as exc:
        log.warning("order API failed for the case page", error=str(exc))
        return OrderContext(order=None, shipments=[], error=str(exc))
    if order is None:
        return OrderContext(order=None, shipments=[], error=f"the order API has no order {number}")
    return OrderContext(order=order, shipments=shipments)


def preview(
    session: Session,
    *,
    renderer: Renderer,
    brands: BrandsFile,
    details: CaseDetails,
    context: OrderContext | None,
    text: str,
    channels: tuple[ChannelKind, ...] = PREVIEW_CHANNELS,
) -> list[Preview]:
    """The reply as the brand's ``case_reply`` on each channel, in the customer's language:
    the same template and variables the worker sends with (on the medium the customer wrote;
    the others show how the copy reads there)."""
    brand = _brand(brands, details.brand)
    order = context.order if context else None
    variables = reply_variables(
        brands, order, context.shipments if context else [], case_id=details.id, text=text
    )
    if order is None:
        name = parseaddr(details.email_from or "")[0]
        variables["customer"] = {"name": name or "-"}
    language = details.language or brand.default_language
    time_zone = order.customer.time_zone if order else "UTC"
    return [
        _render(session, renderer, brand, channel, language, time_zone, variables)
        for channel in channels
    ]


def _render(
    session: Session,
    renderer: Renderer,
    brand: Brand,
    channel: ChannelKind,
    language: str,
    time_zone: str,
    variables: dict[str, Any],
) -> Preview:
    sender = sender_of(brand, channel)[0] or None
    try:
        rendered = renderer(
            session=session,
            brand=brand,
            event="case_reply",
            channel=channel,
            language=language,
            time_zone=time_zone,
            variables=variables,
        )
    except TidingsError as exc:
        return Preview(channel=channel, sender=sender, subject=None, text=None, error=str(exc))
    return Preview(
        channel=channel, sender=sender, subject=rendered.subject, text=rendered.text, error=None
    )


def _brand(brands: BrandsFile, slug: str | None) -> Brand:
    return next((b for b in brands.brands if b.slug == slug), brands.brands[0])


def _thread_cases(session: Session, case: Case) -> list[int]:
    """The case, the cases it replies to (up the chain) and those replying to it (down)."""
    ids = [case.id]
    parent = case.parent_case_id
    while parent is not None and parent not in ids and len(ids) < MAX_THREAD_CASES:
        ids.append(parent)
        parent = session.scalar(select(Case.parent_case_id).where(Case.id == parent))
    frontier = [case.id]
    while frontier and len(ids) < MAX_THREAD_CASES:
        children = list(session.scalars(select(Case.id).where(Case.parent_case_id.in_(frontier))))
        frontier = [c for c in children if c not in ids]
        ids.extend(frontier)
    return ids[:MAX_THREAD_CASES]


def _address(mailbox: Any) -> str:
    if isinstance(mailbox, dict):
        name, address = mailbox.get("name"), mailbox.get("address")
        return f"{name} <{address}>" if name else str(address)
    return str(mailbox)


def _attachments(parsed: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in parsed.get("attachments") or [] if isinstance(a, dict)]
