"""The email a run is about, read once per run: every node reads these facts instead of the row
(the email does not change while its case is worked)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.classifiers.types import EmailInput
from tidings.store.models import BrandRow, Case, InboundEmail

SENDER_KINDS = {"customer", "carrier", "supplier", "unknown"}


@dataclass(frozen=True)
class EmailFacts:
    """What the nodes need of the email."""

    id: int
    brand_id: int | None
    message_id: str | None
    sender: str | None
    sender_kind: str
    language: str | None
    subject: str
    text: str
    sent_on: date | None
    in_reply_to: str | None
    references: list[str] = field(default_factory=list)
    phone: str | None = None
    disowned: bool = False  # the From domain failed authentication: not the customer's word
    medium: str = "email"  # or whatsapp / sms: a chat message, answered where it was written
    answers_notification: int | None = None  # chat: our message it replies to
    answers_notice: str | None = None  # and that message's event
    sent_at: datetime | None = None  # its Date header: when a carrier reported what it says
    received_at: datetime | None = None  # when it reached us: review deadlines count from it
    brand: str | None = None  # the brand's slug
    case_id: int | None = None  # the case an earlier run opened for it, if one did

    def as_input(self) -> EmailInput:
        """What the classifier (and the drafter) read."""
        kind: Any = self.sender_kind
        return EmailInput(
            subject=self.subject,
            text=self.text,
            sender=self.sender,
            sender_kind=kind,
            language=self.language,
            sent_on=self.sent_on,
            medium=self.medium,
            answers_notice=self.answers_notice,
        )


def load_facts(session: Session, email_id: int) -> EmailFacts:
    """The facts of a stored, parsed email, its brand and its case (one query)."""
    email, brand, case_id = session.execute(
        select(InboundEmail, BrandRow.slug, Case.id)
        .outerjoin(BrandRow, BrandRow.id == InboundEmail.brand_id)
        .outerjoin(Case, Case.email_id == InboundEmail.id)
        .where(InboundEmail.id == email_id)
    ).one()
    parsed: dict[str, Any] = email.parsed or {}
    sent = parsed.get("date")
    moment = datetime.fromisoformat(sent) if isinstance(sent, str) else None
    kind = email.sender_kind if email.sender_kind in SENDER_KINDS else "unknown"
    chat = email.medium != "email"
    return EmailFacts(
        id=email.id,
        brand_id=email.brand_id,
        message_id=email.message_id,
        sender=None if chat else email.sender,  # a chat sender is a phone number, not an address
        sender_kind=kind or "unknown",
        language=email.language,
        subject=parsed.get("subject") or email.subject or "",
        text=parsed.get("text") or "",
        sent_on=moment.date() if moment else None,
        in_reply_to=parsed.get("in_reply_to"),
        references=list(parsed.get("references") or []),
        phone=parsed.get("phone"),
        disowned=bool(parsed.get("sender_disowned")),
        medium=email.medium,
        answers_notification=parsed.get("answers_notification"),
        answers_notice=parsed.get("answers_notice"),
        sent_at=moment if moment and moment.tzinfo else None,  # only a Date with its zone
        received_at=email.received_at,
        brand=brand,
        case_id=case_id,
    )


def facts(config: RunnableConfig) -> EmailFacts:
    """The run's email."""
    configurable: dict[str, Any] = config.get("configurable") or {}
    found: EmailFacts = configurable["email"]
    return found
