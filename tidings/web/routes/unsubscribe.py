"""The email unsubscribe link: ``GET /unsubscribe/{token}`` asks, ``POST`` opts out. Public:
the random token in the link is the credential.

A GET alone never unsubscribes, because mail scanners open links; the POST is also RFC 8058's
one-click (``List-Unsubscribe-Post``). Pages are in the customer's language and the brand's
colours (the same ones as its emails). An unknown token, including every link in the old
``id.channel.hmac`` form, is 404.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from tidings.channels.consent import find_unsubscribe, set_consent
from tidings.store.db import transaction
from tidings.store.models import BrandRow, Customer
from tidings.templates.html import theme_for, themes
from tidings.web.deps import PUBLIC, ReadSessionDep, write_sessions
from tidings.web.pages import TEMPLATES
from tidings.web.security import CSP

# The pages' words; {brand} is the brand's name. Keep the languages in step with the emails'.
COPY: Final[dict[str, dict[str, str]]] = {
    "en": {
        "title": "Unsubscribe",
        "question": "Stop emails from {brand}?",
        "detail": "You will no longer get emails about your orders from {brand}.",
        "button": "Unsubscribe",
        "done_title": "You are unsubscribed",
        "done": "{brand} will not email you any more.",
    },
    "hi": {
        "title": "सदस्यता छोड़ें",
        "question": "क्या आप {brand} से ईमेल पाना बंद करना चाहते हैं?",
        "detail": "इसके बाद आपको {brand} से अपने ऑर्डर के बारे में ईमेल नहीं मिलेंगे।",
        "button": "सदस्यता छोड़ें",
        "done_title": "आपने सदस्यता छोड़ दी है",
        "done": "{brand} अब आपको ईमेल नहीं भेजेगा।",
    },
    "id": {
        "title": "Berhenti berlangganan",
        "question": "Berhenti menerima email dari {brand}?",
        "detail": "Anda tidak akan lagi menerima email tentang pesanan Anda dari {brand}.",
        "button": "Berhenti berlangganan",
        "done_title": "Anda telah berhenti berlangganan",
        "done": "{brand} tidak akan mengirimi Anda email lagi.",
    },
    "ms": {
        "title": "Berhenti melanggan",
        "question": "Berhenti menerima e-mel daripada {brand}?",
        "detail": "Anda tidak akan lagi menerima e-mel tentang pesanan anda daripada {brand}.",
        "button": "Berhenti melanggan",
        "done_title": "Anda telah berhenti melanggan",
        "done": "{brand} tidak akan menghantar e-mel kepada anda lagi.",
    },
}
# The token is the only secret in the URL: keep it out of caches and Referer headers. The pages
# wear the brand's colours in an inline <style> (no script, and nothing a customer typed).
_PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CSP.replace("style-src 'self'", "style-src 'unsafe-inline'"),
}


def unsubscribe_router() -> APIRouter:
    """The two unsubscribe routes."""
    router = APIRouter(tags=["unsubscribe"], dependencies=[Depends(PUBLIC)])

    @router.get("/unsubscribe/{token}", response_class=HTMLResponse)
    def ask(request: Request, token: str, session: ReadSessionDep) -> HTMLResponse:
        """Ask before unsubscribing; this changes nothing."""
        customer = _customer(session, token)
        if customer is None:
            return _missing(request)
        return _page(request, "unsubscribe/ask.html", session, customer)

    @router.post("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe(request: Request, token: str) -> HTMLResponse:
        """Opt the customer out of the channel the link was sent on."""
        with transaction(write_sessions(request)) as session:
            found = find_unsubscribe(session=session, token=token)
            customer = session.get(Customer, found.customer_id) if found else None
            if found is None or customer is None:
                return _missing(request)
            set_consent(
                session=session,
                customer_id=customer.id,
                channel=found.channel,
                opted_in=False,
                source="unsubscribe link",
            )
            return _page(request, "unsubscribe/done.html", session, customer)

    return router


def _customer(session: Session, token: str) -> Customer | None:
    found = find_unsubscribe(session=session, token=token)
    return session.get(Customer, found.customer_id) if found else None


def _page(request: Request, name: str, session: Session, customer: Customer) -> HTMLResponse:
    brand = session.get(BrandRow, customer.brand_id)
    brand_name = brand.name if brand else ""
    language = customer.language if customer.language in COPY else "en"
    copy = {key: text.format(brand=brand_name) for key, text in COPY[language].items()}
    context = {
        "language": language,
        "brand_name": brand_name,
        "theme": theme_for(brand.slug if brand else ""),
        "copy": copy,
    }
    return _render(request, name, context, 200)


def _missing(request: Request) -> HTMLResponse:
    context = {"language": "en", "brand_name": "", "theme": themes()["_default"]}
    return _render(request, "unsubscribe/missing.html", context, 404)


def _render(request: Request, name: str, context: dict[str, Any], status: int) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status, headers=_PRIVATE)
