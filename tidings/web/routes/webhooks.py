"""Provider webhooks over HTTP: signatures checked (403), bodies validated (400), then the
``tidings.channels.webhooks`` functions record what they report.

- ``POST /webhooks/twilio/status``: Twilio message status callbacks.
- ``POST /webhooks/twilio/inbound``: customers' WhatsApp/SMS messages; answers with empty TwiML.
- ``POST /webhooks/sendgrid/events``: SendGrid's event webhook.
The body has already been bounded by the app's ``BodyLimit`` when it is read here. Public: the
providers authenticate with signatures, not sessions.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from tidings.channels import status as statuses
from tidings.channels import webhooks as hooks
from tidings.config import Settings, load_brands
from tidings.errors import WebhookPayloadError, WebhookSignatureError
from tidings.store.db import transaction
from tidings.web.deps import PUBLIC, write_sessions

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def webhooks_router(settings: Settings) -> APIRouter:
    """The router, bound to these settings' secrets."""
    router = APIRouter(tags=["webhooks"], dependencies=[Depends(PUBLIC)])
    brands = functools.cache(lambda: load_brands(settings.brands_file))  # read on first use

    @router.post("/webhooks/twilio/status")
    async def twilio_status(request: Request) -> JSONResponse:
        """A message's new status: sent, delivered, read, failed, undelivered."""
        with _as_http():
            form = await _twilio_form(request, settings)
            report = hooks.twilio_report(form, request.query_params.get("notification"))
        with transaction(write_sessions(request)) as session:
            outcome = statuses.record(session=session, report=report)
        return JSONResponse({"outcome": outcome})

    @router.post("/webhooks/twilio/inbound")
    async def twilio_inbound(request: Request) -> Response:
        """A customer's message: STOP/START, the WhatsApp window, and any other message stored
        for the pipeline like an email; answers with empty TwiML."""
        with _as_http():
            form = await _twilio_form(request, settings)
        with _as_http(), transaction(write_sessions(request)) as session:
            hooks.record_inbound(session, brands(), form)
        return Response(EMPTY_TWIML, media_type="text/xml")

    @router.post("/webhooks/sendgrid/events")
    async def sendgrid_events(request: Request) -> JSONResponse:
        """A batch of email events: processed, delivered, open, bounce, dropped, unsubscribe..."""
        grid = settings.sendgrid
        signature = request.headers.get(hooks.SENDGRID_SIGNATURE, "")
        timestamp = request.headers.get(hooks.SENDGRID_TIMESTAMP, "")
        with _as_http():
            key = hooks.require_sendgrid_signature(
                grid.webhook_public_key, signature, timestamp, grid.webhook_tolerance_seconds
            )
            events = hooks.verified_sendgrid_events(key, await request.body(), signature, timestamp)
        outcomes: dict[str, int] = {}
        with transaction(write_sessions(request)) as session:
            for event in events:
                outcome = hooks.record_sendgrid_event(session, event)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return JSONResponse({"outcomes": outcomes})

    return router


@contextmanager
def _as_http() -> Iterator[None]:
    """Turn the channels' webhook errors into 403 (signature) and 400 (payload)."""
    try:
        yield
    except WebhookSignatureError as exc:
        raise HTTPException(403, str(exc)) from exc
    except WebhookPayloadError as exc:
        raise HTTPException(400, str(exc)) from exc


async def _twilio_form(request: Request, settings: Settings) -> dict[str, str]:
    signature = request.headers.get(hooks.TWILIO_SIGNATURE, "")
    token = hooks.require_twilio_signature(settings.twilio.auth_token, signature)
    body = await request.body()
    return hooks.verified_twilio_form(token, body, signature, _public_urls(request, settings))


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
