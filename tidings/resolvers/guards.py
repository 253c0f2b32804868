"""Guards more than one resolver needs."""

from __future__ import annotations

from tidings.resolvers.base import ResolveContext
from tidings.resolvers.order_api import OrderView


def order_and_owner(ctx: ResolveContext) -> OrderView | None:
    """The matched order, when there is one and the sender is its customer (email or E.164
    phone); the failed guard is recorded otherwise."""
    if not ctx.guard("order matched", ctx.order is not None, ctx.fields.get("order_id") or ""):
        return None
    verified = ctx.sender_verified is True
    if not ctx.guard("sender is the order's customer", verified, "" if verified else "no match"):
        return None
    return ctx.order


def identity_strong_enough(ctx: ResolveContext) -> bool:
    """Where a parcel goes changes only on a sender we can trust: an SMS sender id can be forged
    (WhatsApp numbers and authenticated email cannot be as easily), so an SMS never redirects an
    order on its own; a person confirms it. Answers go to the order's customer, so telling status
    over SMS discloses nothing to a forger."""
    strong = ctx.sender_medium != "sms"
    return ctx.guard("the sender's channel proves who they are", strong, ctx.sender_medium)


def order_matched(ctx: ResolveContext) -> OrderView | None:
    """The matched order (carrier and supplier mail: the sender is not the customer)."""
    if not ctx.guard("order matched", ctx.order is not None, ctx.fields.get("order_id") or ""):
        return None
    return ctx.order
