"""Tracking webhooks from the aggregators, as one FastAPI router.

- ``POST /webhooks/aftership``: AfterShip tracking webhooks (``aftership-hmac-sha256``).
- ``POST /webhooks/easypost``: EasyPost tracker events (``X-Hmac-Signature``).
Each body is checked against its signature before anything parses it (403, nothing changed,
when it does not verify or the secret is not configured), then mapped and recorded once per
event id (``tidings.wismo``): a redelivery answers 200 with ``duplicate`` so the sender stops
retrying. A signed body that is not what the provider sends gets 400. Delay episodes and
notices follow at the next scan.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from tidings.config import Settings
from tidings.store.db import transaction
from tidings.web.deps import PUBLIC, write_sessions
from tidings.wismo import aftership, easypost
from tidings.wismo.events import TrackingUpdate, ingest


def tracking_router(settings: Settings) -> APIRouter:
    """The router, bound to these settings' webhook secrets."""
    # Public: the aggregators authenticate with signatures, not sessions.
    router = APIRouter(tags=["tracking"], dependencies=[Depends(PUBLIC)])
    wismo = settings.wismo

    @router.post("/webhooks/aftership")
    async def aftership_webhook(request: Request) -> JSONResponse:
        """An AfterShip tracking update."""
        body = await _verified(
            request, wismo.aftership_secret, aftership.SIGNATURE, aftership.verify, "AFTERSHIP"
        )
        return _record(request, _parsed(aftership.parse, body))

    @router.post("/webhooks/easypost")
    async def easypost_webhook(request: Request) -> JSONResponse:
        """An EasyPost event; only tracker events change anything."""
        body = await _verified(
            request, wismo.easypost_secret, easypost.SIGNATURE, easypost.verify, "EASYPOST"
        )
        return _record(request, _parsed(easypost.parse, body))

    return router


async def _verified(
    request: Request,
    secret: SecretStr | None,
    header: str,
    verify: Callable[[bytes, str, str], bool],
    name: str,
) -> bytes:
    """The raw body, once its signature verifies; 403 otherwise (before parsing anything)."""
    if secret is None:
        raise HTTPException(403, f"not configured: set TIDINGS_WISMO__{name}_SECRET")
    signature = request.headers.get(header, "")
    if not signature:
        raise HTTPException(403, f"missing {header}")
    body = await request.body()
    if not verify(body, signature, secret.get_secret_value()):
        raise HTTPException(403, f"invalid {header}")
    return body


def _parsed(parse: Callable[[bytes], TrackingUpdate | None], body: bytes) -> TrackingUpdate | None:
    try:
        return parse(body)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc


def _record(request: Request, update: TrackingUpdate | None) -> JSONResponse:
    if update is None:
        return JSONResponse({"outcome": "ignored"})
    with transaction(write_sessions(request)) as session:
        result = ingest(session=session, update=update)
    return JSONResponse({"outcome": result.outcome})
