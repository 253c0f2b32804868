"""Outreach policy: whether a customer hears about a problem, in which language, on which channel.

Decided when the notice is queued (the brand's ``policies.outreach``):
- the brand tells customers about this problem at all (``enabled``, ``notify``);
- the customer has no open case about the order: the agent answers them there;
- the language: the customer's profile language when the brand speaks it, else the language of
  their last email to us, else the brand's default;
- the first channel: the brand's outreach order (e.g. WhatsApp, then SMS, then email), else the
  customer's own, the first one with an address.
Decided when the dispatcher sends it (``tidings.channels.policy``, the same rules as every
proactive message): quiet hours in the customer's time zone, the weekly cap, opt-outs,
WhatsApp's 24-hour window with approved utility templates outside it, and falling back to the
next channel in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tidings.channels.policy import CHANNELS, address_on, outreach_order
from tidings.config.brands import Brand
from tidings.store.enums import CLOSED_CASE_STATES, ChannelKind, Problem
from tidings.store.models import Case, Order

OPEN_CASE = "the customer has an open case about this order"


def suppressed(brand: Brand, problem: Problem, *, open_case: bool) -> str | None:
    """Why the customer must not hear about ``problem`` now, or None."""
    outreach = brand.policies.outreach
    if not outreach.enabled:
        return f"{brand.slug} has proactive WISMO off"
    if problem.value not in outreach.notify:
        return f"{brand.slug} does not notify {problem.value}"
    return OPEN_CASE if open_case else None


def channel_order(brand: Brand, customer_order: Sequence[str]) -> list[ChannelKind]:
    """The channels a proactive notice tries, in order (the dispatcher's ``outreach_order``;
    email when neither the brand nor the customer names one)."""
    return list(_known(tuple(outreach_order(brand, customer_order))))


@lru_cache(maxsize=256)
def _known(names: tuple[str, ...]) -> tuple[ChannelKind, ...]:
    ordered = [CHANNELS[name] for name in names if name in CHANNELS]
    return tuple(dict.fromkeys(ordered or [ChannelKind.EMAIL]))


def first_channel(
    brand: Brand, customer_order: Sequence[str], *, email: str | None, phone: str | None
) -> tuple[ChannelKind, str]:
    """(channel, recipient): the first channel of ``channel_order`` the customer has an address
    on; the dispatcher still checks consent and falls back at send time."""
    candidates = channel_order(brand, customer_order)
    for kind in candidates:
        recipient = address_on(kind, email=email, phone=phone)
        if recipient and (kind is ChannelKind.EMAIL or phone):
            return kind, recipient
    return candidates[0], address_on(candidates[0], email=email, phone=phone)


def language_for(brand: Brand, profile: str | None, last_email: str | None) -> str:
    """The customer's profile language if the brand speaks it, else their last email's, else
    the brand's default."""
    for language in (profile, last_email):
        if language and language in brand.languages:
            return language
    return brand.default_language


def open_case_orders(session: Session, orders: Iterable[int] | Select[Any]) -> set[int]:
    """Which of these orders (ids, or a query of ids) have a case open that their customer
    wrote (a carrier's or a supplier's mail about the order is not the customer's case)."""
    ids = orders if isinstance(orders, Select) else list(orders)
    if isinstance(ids, list) and not ids:
        return set()
    rows = session.scalars(
        select(Case.order_id).where(
            Case.order_id.in_(ids),
            Case.sender_verified.is_(True),
            Case.state.not_in(list(CLOSED_CASE_STATES)),
        )
    )
    return {order_id for order_id in rows if order_id is not None}


def last_email_languages(session: Session, customer_ids: Iterable[int]) -> dict[int, str]:
    """The language of each customer's last email about one of their orders."""
    ids = list(customer_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Order.customer_id, Case.language)
        .join(Order, Order.id == Case.order_id)
        .where(
            Order.customer_id.in_(ids),
            Case.sender_verified.is_(True),
            Case.language.is_not(None),
        )
        .order_by(Case.id)
    )
    return {customer_id: language for customer_id, language in rows if language}
