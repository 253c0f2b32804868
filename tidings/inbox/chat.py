"""WhatsApp and SMS messages from customers, stored and parsed like email.

Twilio's incoming-message webhook (tidings/web/routes/webhooks.py, signature checked) hands each
message here. It is stored once (idempotent on Twilio's ``MessageSid``) in the inbox table with
``medium`` whatsapp or sms and the provider's fields as its raw bytes, so it flows through the same
pipeline as email: the parse step turns it into a ``ParsedEmail`` (text, language, the phone
number, and the notice of ours it replies to), then the agent classifies, matches and answers it.

A chat reply carries no In-Reply-To header; what it answers is the latest message we sent that
number on that medium in the last ``REPLY_WINDOW``. "560038" is an address only after "please
confirm your PIN code", which is why the classifier sees that notice too.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.inbox.language import detect_language
from tidings.inbox.parse import ParsedEmail
from tidings.resolvers.contacts import e164
from tidings.store.base import utcnow
from tidings.store.enums import ChannelKind, EmailState, NotificationState
from tidings.store.models import InboundEmail, Notification

REPLY_WINDOW = timedelta(days=7)
MAX_BODY_CHARS = 4096  # WhatsApp's own limit; anything longer is not from a phone
_SENT = (
    NotificationState.SENDING,
    NotificationState.SENT,
    NotificationState.DELIVERED,
    NotificationState.READ,
)
Medium = Literal["whatsapp", "sms"]


class ChatMessage(BaseModel):
    """The parts of Twilio's incoming-message request Tidings keeps."""

    sid: str = Field(min_length=1, max_length=64)
    medium: Medium
    phone: str = Field(description="the sender, E.164")
    to: str
    body: str = Field(default="", max_length=MAX_BODY_CHARS)
    media: int = Field(default=0, ge=0, description="attachments (photos, voice notes) sent")
    received_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def from_twilio(cls, form: dict[str, str]) -> ChatMessage:
        """From the webhook's form fields (``From`` is ``whatsapp:+91...`` on WhatsApp)."""
        sender = form.get("From", "")
        medium: Medium = "whatsapp" if sender.startswith("whatsapp:") else "sms"
        raw_phone = sender.removeprefix("whatsapp:")
        return cls(
            sid=form.get("MessageSid") or form.get("SmsMessageSid") or "",
            medium=medium,
            phone=e164(raw_phone) or raw_phone,
            to=form.get("To", "").removeprefix("whatsapp:"),
            body=form.get("Body", "")[:MAX_BODY_CHARS],
            media=int(form.get("NumMedia") or 0),
        )


def store_chat_message(
    session: Session, message: ChatMessage, *, brand_id: int | None, brand_slug: str | None
) -> int | None:
    """Store the message for the pipeline; the row's id, or None when Twilio sent it before (a
    retried webhook)."""
    mailbox = f"{brand_slug or 'unknown'}-{message.medium}"
    key = f"twilio:{message.sid}"
    found = session.scalar(
        select(InboundEmail.id).where(
            InboundEmail.mailbox == mailbox, InboundEmail.dedupe_key == key
        )
    )
    if found is not None:
        return None
    raw = message.model_dump_json().encode()
    row = InboundEmail(
        mailbox=mailbox,
        brand_id=brand_id,
        dedupe_key=key,
        content_hash=hashlib.sha256(raw).hexdigest(),
        raw=raw,
        size_bytes=len(raw),
        sender=message.phone,
        subject="",
        received_at=message.received_at,
        state=EmailState.RECEIVED,
        medium=message.medium,
        sender_kind="customer",
    )
    try:
        with session.begin_nested():  # the same message delivered twice at once
            session.add(row)
    except IntegrityError:
        return None
    return row.id


def parse_chat(session: Session, raw: bytes, brand_id: int | None) -> ParsedEmail:
    """A stored chat message as the classifier and the agent read it."""
    message = ChatMessage.model_validate(json.loads(raw))
    answered = _answered_notification(session, message, brand_id)
    text = message.body.strip()
    if not text and message.media:
        text = f"[{message.media} attachment(s), no text]"
    return ParsedEmail(
        message_id=f"twilio:{message.sid}",
        text=text,
        author_text=text,
        date=message.received_at,
        body_format="plain",
        language=detect_language(text) if len(text) >= 12 else None,
        sender_kind="customer",
        medium=message.medium,
        phone=message.phone,
        answers_notification=answered.id if answered else None,
        answers_notice=answered.event if answered else None,
    )


def _answered_notification(
    session: Session, message: ChatMessage, brand_id: int | None
) -> Notification | None:
    """The latest message we sent this number on this medium recently: what a reply answers."""
    query = (
        select(Notification)
        .where(
            Notification.channel == ChannelKind(message.medium),
            Notification.recipient.in_([message.phone, f"whatsapp:{message.phone}"]),
            Notification.state.in_(_SENT),
            Notification.sent_at >= message.received_at - REPLY_WINDOW,
            Notification.sent_at <= message.received_at,
        )
        .order_by(Notification.sent_at.desc())
        .limit(1)
    )
    if brand_id is not None:
        query = query.where(Notification.brand_id == brand_id)
    return session.scalar(query)
