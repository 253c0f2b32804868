"""Consent: who may be messaged on which channel, and the ways customers change it.

A STOP reply (WhatsApp, SMS) or an unsubscribe link (email) sets ``opted_in`` false with its
source; START opts back in. Consent is checked again at send time, so a message enqueued before
the customer opted out is not sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.errors import ChannelRejectedError
from tidings.store.base import utcnow
from tidings.store.enums import ChannelKind
from tidings.store.models import CustomerConsent

# Whole-message keywords, as carriers and Twilio treat them, plus the words our customers use in
# Hindi and Bahasa. "CANCEL" is left out on purpose: here it usually means "cancel my order".
OPT_OUT_KEYWORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "end", "quit", "optout", "opt out", "opt-out"}
    | {"berhenti", "henti", "stop langganan", "बंद", "बंद करें", "रोकें"}
)
OPT_IN_KEYWORDS = frozenset({"start", "unstop", "mulai", "शुरू"})


def keyword_consent(text: str) -> bool | None:
    """False for an opt-out keyword, True for an opt-in keyword, None for anything else."""
    word = " ".join(text.strip().strip(".!").lower().split())
    if word in OPT_OUT_KEYWORDS:
        return False
    if word in OPT_IN_KEYWORDS:
        return True
    return None


def set_consent(
    *,
    session: Session,
    customer_id: int,
    channel: ChannelKind,
    opted_in: bool,
    source: str,
    at: datetime | None = None,
) -> CustomerConsent:
    """Record a customer's consent for one channel, in the caller's transaction."""
    row = session.scalar(
        select(CustomerConsent).where(
            CustomerConsent.customer_id == customer_id, CustomerConsent.channel == channel
        )
    )
    if row is None:
        row = CustomerConsent(customer_id=customer_id, channel=channel)
        session.add(row)
    row.opted_in = opted_in
    row.source = source[:64]
    row.changed_at = at or utcnow()
    session.flush()
    return row


def unsubscribe_token(secret: str, customer_id: int, channel: ChannelKind) -> str:
    """A URL-safe token naming a customer and channel, signed so nobody can forge another's."""
    payload = f"{customer_id}.{channel.value}"
    return f"{payload}.{_signature(secret, payload)}"


def read_unsubscribe_token(secret: str, token: str) -> tuple[int, ChannelKind]:
    """The customer and channel a token names; ``ChannelRejectedError`` if it was tampered with."""
    try:
        customer, channel, signature = token.split(".")
        payload = f"{customer}.{channel}"
        if not hmac.compare_digest(signature, _signature(secret, payload)):
            raise ValueError("bad signature")
        return int(customer), ChannelKind(channel)
    except ValueError as exc:
        raise ChannelRejectedError("this unsubscribe link is not valid") from exc


def _signature(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
