"""What provider webhooks mean, as plain functions; the HTTP routes are in
``tidings.web.routes.webhooks``.

- Twilio: message status callbacks and customers' inbound WhatsApp/SMS messages (STOP and START
  change consent; a WhatsApp message opens the 24-hour window), signed with
  ``X-Twilio-Signature`` over the URL and the form's parameters.
- SendGrid: the event webhook, an ECDSA signature over timestamp and body; a timestamp outside
  the replay window is refused.
A signature that does not verify is ``WebhookSignatureError`` and changes nothing; a body is
parsed only after its signature verifies, and a signed body that is not what the provider sends
is ``WebhookPayloadError``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from pydantic import SecretStr, ValidationError
from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from tidings.channels import status as statuses
from tidings.channels.consent import keyword_consent, set_consent
from tidings.channels.webhook_payloads import SendGridEvent, parse_events, row_id
from tidings.config import BrandsFile
from tidings.errors import WebhookPayloadError, WebhookSignatureError
from tidings.inbox.chat import ChatMessage, store_chat_message
from tidings.store.base import utcnow
from tidings.store.enums import ChannelKind
from tidings.store.models import BrandRow, Customer, Notification

SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
TWILIO_SIGNATURE = "X-Twilio-Signature"
_SENDGRID_OPT_OUTS = {"unsubscribe", "group_unsubscribe", "spamreport"}


# -- Twilio ----------------------------------------------------------------------------------


def require_twilio_signature(token: SecretStr | None, signature: str) -> str:
    """The auth token to verify with; refused before a byte of the body is read."""
    if token is None:
        raise WebhookSignatureError("Twilio is not configured: set TIDINGS_TWILIO__AUTH_TOKEN")
    if not signature:
        raise WebhookSignatureError(f"missing {TWILIO_SIGNATURE}")
    return token.get_secret_value()


def verified_twilio_form(
    token: str, body: bytes, signature: str, urls: Iterable[str]
) -> dict[str, str]:
    """The form Twilio posted, if ``signature`` verifies for one of the ``urls`` it may have
    signed. Twilio signs the form's parameters, not the raw body, so the (bounded) body is
    parsed first; blank values count for the signature."""
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    validator = RequestValidator(token)
    if not any(validator.validate(url, form, signature) for url in urls):
        raise WebhookSignatureError(f"invalid {TWILIO_SIGNATURE}")
    return form


def twilio_report(form: dict[str, str], hint: str | None) -> statuses.StatusReport:
    """A status callback as a report; ``WebhookPayloadError`` for values Twilio does not send."""
    sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if len(sid) > 64 or len(status) > 32:  # Twilio's are 34 and at most 11 characters
        raise WebhookPayloadError("MessageSid or MessageStatus is longer than Twilio sends")
    try:
        notification = row_id(hint)
    except ValueError as exc:
        raise WebhookPayloadError(f"notification: {exc}") from exc
    return statuses.StatusReport(
        provider="twilio",
        provider_message_id=sid,
        status=status,
        event_key=f"twilio:{sid}:{status}",
        state=statuses.TWILIO_STATUSES.get(status),
        notification_hint=notification,
        error=_twilio_error(form),
        occurred_at=utcnow(),
        payload=form,
    )


def _twilio_error(form: dict[str, str]) -> str | None:
    code, message = form.get("ErrorCode"), form.get("ErrorMessage")
    return " ".join(part for part in (code, message) if part) or None


def record_inbound(session: Session, brands: BrandsFile, form: dict[str, str]) -> int | None:
    """A customer's message: STOP/START change consent, WhatsApp opens the 24-hour window, and
    anything else is stored for the pipeline like an email (once per ``MessageSid``). Returns
    the stored row's id, or None (a keyword, an empty message, or one Twilio sent before)."""
    try:
        message = ChatMessage.from_twilio(form)
    except ValidationError as exc:
        count = exc.error_count()
        raise WebhookPayloadError(f"not a Twilio incoming message: {count} error(s)") from exc
    kind = ChannelKind(message.medium)
    brand_slugs = [
        b.slug
        for b in brands.brands
        if message.to
        in {(s or "").removeprefix("whatsapp:") for s in (b.senders.whatsapp, b.senders.sms)}
    ]
    customers = session.scalars(
        select(Customer)
        .join(BrandRow, BrandRow.id == Customer.brand_id)
        .where(Customer.phone == message.phone, BrandRow.slug.in_(brand_slugs))
    ).all()
    consent = keyword_consent(message.body)
    for customer in customers:
        if kind is ChannelKind.WHATSAPP:
            customer.last_inbound_whatsapp_at = utcnow()
        if consent is not None:
            source = f"{kind.value} reply {message.body.strip()[:20]}"
            set_consent(
                session=session,
                customer_id=customer.id,
                channel=kind,
                opted_in=consent,
                source=source,
            )
    if consent is not None or not (message.body.strip() or message.media):
        return None
    # The brand whose number was written to; of several sharing one, the customer's.
    brand_ids = {c.brand_id for c in customers}
    brand = next(
        (
            row
            for row in session.scalars(select(BrandRow).where(BrandRow.slug.in_(brand_slugs)))
            if not brand_ids or row.id in brand_ids
        ),
        None,
    )
    return store_chat_message(
        session,
        message,
        brand_id=brand.id if brand else None,
        brand_slug=brand.slug if brand else None,
    )


# -- SendGrid --------------------------------------------------------------------------------


def require_sendgrid_signature(
    key: str | None, signature: str, timestamp: str, tolerance: float
) -> str:
    """The public key to verify with, once the headers are there and the timestamp is recent;
    refused before the body is read."""
    if not key:
        raise WebhookSignatureError(
            "SendGrid events are not configured: set TIDINGS_SENDGRID__WEBHOOK_PUBLIC_KEY"
        )
    if not signature:
        raise WebhookSignatureError(f"missing {SENDGRID_SIGNATURE}")
    _refuse_replays(timestamp, tolerance)
    return key


def verified_sendgrid_events(
    key: str, body: bytes, signature: str, timestamp: str
) -> list[SendGridEvent]:
    """The events of a batch whose signature verifies; the raw body is verified before
    anything parses it."""
    text = body.decode("utf-8", "replace")
    try:
        valid = EventWebhook(key).verify_signature(text, signature, timestamp)
    except (ValueError, TypeError):  # a malformed signature or key
        valid = False
    if not valid:
        raise WebhookSignatureError("invalid SendGrid event webhook signature")
    try:
        return parse_events(text)
    except ValueError as exc:
        raise WebhookPayloadError(str(exc)) from exc


def _refuse_replays(timestamp: str, tolerance: float) -> None:
    """Refused unless the signed timestamp is close to now: a captured batch cannot be sent
    again later (the signature covers the timestamp)."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise WebhookSignatureError(f"missing or invalid {SENDGRID_TIMESTAMP}")
    off = abs(time.time() - int(timestamp))
    if off > tolerance:
        raise WebhookSignatureError(
            f"the event batch was signed {off:.0f} s from now, outside the replay window of "
            f"{tolerance:.0f} s (TIDINGS_SENDGRID__WEBHOOK_TOLERANCE_SECONDS; check the clock)"
        )


def record_sendgrid_event(session: Session, event: SendGridEvent) -> str:
    """Apply one email event (and an opt-out it carries); returns the outcome."""
    name = event.event
    message_id = event.sg_message_id.split(".")[0]
    hint = event.tidings_notification_id
    if name in _SENDGRID_OPT_OUTS:
        _email_opt_out(session, hint, name)
    extra = event.model_extra or {}
    report = statuses.StatusReport(
        provider="sendgrid",
        provider_message_id=message_id,
        status=name,
        event_key=f"sendgrid:{event.sg_event_id or (message_id + ':' + name)}",
        state=statuses.SENDGRID_STATUSES.get(name),
        notification_hint=hint,
        error=str(extra.get("reason") or extra.get("response") or "") or None,
        occurred_at=_from_unix(event.timestamp),
        payload=event.model_dump(mode="json", exclude_unset=True),
    )
    return statuses.record(session=session, report=report)


def _email_opt_out(session: Session, notification_id: int | None, source: str) -> None:
    row = session.get(Notification, notification_id) if notification_id is not None else None
    if row is not None and row.customer_id is not None:
        set_consent(
            session=session,
            customer_id=row.customer_id,
            channel=ChannelKind.EMAIL,
            opted_in=False,
            source=f"sendgrid {source}",
        )


def _from_unix(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):  # out of the platform's range
        return None
