"""Provider webhooks, as one FastAPI router.

- ``POST /webhooks/twilio/status``: Twilio message status callbacks (``X-Twilio-Signature``).
- ``POST /webhooks/twilio/inbound``: customers' WhatsApp/SMS messages: STOP and START change
  consent; a WhatsApp message opens the 24-hour window (``X-Twilio-Signature``).
- ``POST /webhooks/sendgrid/events``: SendGrid's event webhook (ECDSA signature over timestamp
  and body; a timestamp outside the replay window is refused).
A request whose signature does not verify gets 403 and changes nothing. The body has already been
bounded by the app's ``BodyLimit`` when it is read here, and it is parsed only after its
signature verifies. A signed body that is not what the provider sends (wrong types, numbers no
row id can be, values longer than Tidings stores, deep nesting) gets 400, never 500.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from tidings.channels import status as statuses
from tidings.channels.consent import keyword_consent, set_consent
from tidings.channels.webhook_payloads import SendGridEvent, parse_events, row_id
from tidings.config import BrandsFile, Settings, load_brands
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind
from tidings.store.models import BrandRow, Customer, Notification

SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
TWILIO_SIGNATURE = "X-Twilio-Signature"
_SENDGRID_OPT_OUTS = {"unsubscribe", "group_unsubscribe", "spamreport"}


def webhooks_router(settings: Settings) -> APIRouter:
    """The router, bound to these settings' secrets."""
    router = APIRouter(tags=["webhooks"])
    brands = functools.cache(lambda: load_brands(settings.brands_file))  # read on first use

    @router.post("/webhooks/twilio/status")
    async def twilio_status(request: Request) -> JSONResponse:
        """A message's new status: sent, delivered, read, failed, undelivered."""
        form = await _verified_twilio_form(request, settings)
        report = _twilio_report(form, request.query_params.get("notification"))
        with transaction(_sessions(request)) as session:
            outcome = statuses.record(session=session, report=report)
        return JSONResponse({"outcome": outcome})

    @router.post("/webhooks/twilio/inbound")
    async def twilio_inbound(request: Request) -> Response:
        """A customer's message: STOP/START and the WhatsApp window; answers with empty TwiML."""
        form = await _verified_twilio_form(request, settings)
        with transaction(_sessions(request)) as session:
            _inbound(session, brands(), form)
        return Response('<?xml version="1.0" encoding="UTF-8"?><Response/>', media_type="text/xml")

    @router.post("/webhooks/sendgrid/events")
    async def sendgrid_events(request: Request) -> JSONResponse:
        """A batch of email events: processed, delivered, open, bounce, dropped, unsubscribe..."""
        events = await _verified_sendgrid_events(request, settings)
        outcomes: dict[str, int] = {}
        with transaction(_sessions(request)) as session:
            for event in events:
                outcome = _sendgrid_event(session, event)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return JSONResponse({"outcomes": outcomes})

    return router


def _sessions(request: Request) -> SessionFactory:
    """The app's writing session factory (webhooks change notification and consent rows)."""
    factory: SessionFactory = request.app.state.sessions
    return factory


# -- Twilio ----------------------------------------------------------------------------------


async def _verified_twilio_form(request: Request, settings: Settings) -> dict[str, str]:
    token = settings.twilio.auth_token
    if token is None:
        raise HTTPException(403, "Twilio is not configured: set TIDINGS_TWILIO__AUTH_TOKEN")
    signature = request.headers.get(TWILIO_SIGNATURE, "")
    if not signature:  # refused before a byte of the body is read
        raise HTTPException(403, f"missing {TWILIO_SIGNATURE}")
    # Twilio signs the form's parameters, not the raw body, so the (bounded) body is parsed
    # first; blank values count for the signature.
    body = (await request.body()).decode("utf-8", "replace")
    form = dict(parse_qsl(body, keep_blank_values=True))
    validator = RequestValidator(token.get_secret_value())
    if not any(validator.validate(url, form, signature) for url in _public_urls(request, settings)):
        raise HTTPException(403, f"invalid {TWILIO_SIGNATURE}")
    return form


def _public_urls(request: Request, settings: Settings) -> Iterator[str]:
    """The URL Twilio signed: as we received it, or (behind a proxy) the configured one."""
    yield str(request.url)
    public = settings.web.public_url
    if public:
        query = f"?{request.url.query}" if request.url.query else ""
        yield f"{public.rstrip('/')}{request.url.path}{query}"
    configured = settings.twilio.status_callback_url
    if configured and request.url.path.endswith("/status"):
        query = request.url.query
        yield f"{configured}{('&' if '?' in configured else '?') + query if query else ''}"


def _twilio_report(form: dict[str, str], hint: str | None) -> statuses.StatusReport:
    """A status callback as a report; 400 for values Twilio does not send."""
    sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if len(sid) > 64 or len(status) > 32:  # Twilio's are 34 and at most 11 characters
        raise HTTPException(400, "MessageSid or MessageStatus is longer than Twilio sends")
    try:
        notification = row_id(hint)
    except ValueError as exc:
        raise HTTPException(400, f"notification: {exc}") from exc
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


def _inbound(session: Session, brands: BrandsFile, form: dict[str, str]) -> None:
    sender, to = form.get("From", ""), form.get("To", "")
    kind = ChannelKind.WHATSAPP if sender.startswith("whatsapp:") else ChannelKind.SMS
    phone = sender.removeprefix("whatsapp:")
    brand_slugs = [b.slug for b in brands.brands if to in (b.senders.whatsapp, b.senders.sms)]
    customers = session.scalars(
        select(Customer)
        .join(BrandRow, BrandRow.id == Customer.brand_id)
        .where(Customer.phone == phone, BrandRow.slug.in_(brand_slugs))
    ).all()
    consent = keyword_consent(form.get("Body", ""))
    for customer in customers:
        if kind is ChannelKind.WHATSAPP:
            customer.last_inbound_whatsapp_at = utcnow()
        if consent is not None:
            source = f"{kind.value} reply {form.get('Body', '').strip()[:20]}"
            set_consent(
                session=session,
                customer_id=customer.id,
                channel=kind,
                opted_in=consent,
                source=source,
            )


# -- SendGrid --------------------------------------------------------------------------------


async def _verified_sendgrid_events(request: Request, settings: Settings) -> list[SendGridEvent]:
    key = settings.sendgrid.webhook_public_key
    if not key:
        raise HTTPException(
            403, "SendGrid events are not configured: set TIDINGS_SENDGRID__WEBHOOK_PUBLIC_KEY"
        )
    signature = request.headers.get(SENDGRID_SIGNATURE, "")
    timestamp = request.headers.get(SENDGRID_TIMESTAMP, "")
    if not signature:
        raise HTTPException(403, f"missing {SENDGRID_SIGNATURE}")
    _refuse_replays(timestamp, settings.sendgrid.webhook_tolerance_seconds)
    body = (await request.body()).decode("utf-8", "replace")
    try:  # the raw body is verified before anything parses it
        valid = EventWebhook(key).verify_signature(body, signature, timestamp)
    except (ValueError, TypeError):  # a malformed signature or key
        valid = False
    if not valid:
        raise HTTPException(403, "invalid SendGrid event webhook signature")
    try:
        return parse_events(body)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc


def _refuse_replays(timestamp: str, tolerance: float) -> None:
    """403 unless the signed timestamp is close to now: a captured batch cannot be sent again
    later (the signature covers the timestamp)."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise HTTPException(403, f"missing or invalid {SENDGRID_TIMESTAMP}")
    off = abs(time.time() - int(timestamp))
    if off > tolerance:
        raise HTTPException(
            403,
            f"the event batch was signed {off:.0f} s from now, outside the replay window of "
            f"{tolerance:.0f} s (TIDINGS_SENDGRID__WEBHOOK_TOLERANCE_SECONDS; check the clock)",
        )


def _sendgrid_event(session: Session, event: SendGridEvent) -> str:
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


# -- helpers ---------------------------------------------------------------------------------


def _from_unix(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):  # out of the platform's range
        return None
