"""Consent: who may be messaged on which channel, and the ways customers change it.

A STOP reply (WhatsApp, SMS) or an unsubscribe link (email) sets ``opted_in`` false with its
source; START opts back in. Consent is checked again at send time, so a message enqueued before
the customer opted out is not sent. An unsubscribe link carries a random token stored per customer
and channel, so it names nobody and cannot be made up.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.store.base import utcnow
from tidings.store.enums import ChannelKind
from tidings.store.models import CustomerConsent, UnsubscribeToken

TOKEN_BYTES = 24  # 192 random bits, 32 URL-safe characters
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,64}")

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


def unsubscribe_token(*, session: Session, customer_id: int, channel: ChannelKind) -> str:
    """The customer's unsubscribe token for a channel: random, made on first use, then kept, in
    the caller's transaction."""
    existing = _token_of(session, customer_id, channel)
    if existing is not None:
        return existing
    row = UnsubscribeToken(
        token=secrets.token_urlsafe(TOKEN_BYTES), customer_id=customer_id, channel=channel
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another dispatcher made this customer's token first: use theirs
        made = _token_of(session, customer_id, channel)
        if made is None:
            raise
        return made
    return row.token


def find_unsubscribe(*, session: Session, token: str) -> UnsubscribeToken | None:
    """The customer and channel a token stands for; None for anything that is not one."""
    if not _TOKEN_SHAPE.fullmatch(token):  # old id.channel.hmac links, junk: no query
        return None
    return session.scalar(select(UnsubscribeToken).where(UnsubscribeToken.token == token))


def _token_of(session: Session, customer_id: int, channel: ChannelKind) -> str | None:
    return session.scalar(
        select(UnsubscribeToken.token).where(
            UnsubscribeToken.customer_id == customer_id, UnsubscribeToken.channel == channel
        )
    )
