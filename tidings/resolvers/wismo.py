"""wismo: tell the customer where their order is, from its shipments (status, ETA)."""

from __future__ import annotations

from tidings.resolvers.base import Resolution, ResolveContext, register
from tidings.resolvers.guards import order_and_owner
from tidings.wismo.detect import Clock
from tidings.wismo.status import answer, notice_for


@register
class Wismo:
    """Guards: a matched order, and the sender is its customer (the status of someone else's
    order is theirs alone). Delivered-but-missing, customs and exceptions go to a person."""

    category = "wismo"

    def resolve(self, ctx: ResolveContext) -> Resolution:
        """Answer with the notice that tells the order's status (what a proactive notice about
        it says too)."""
        order = order_and_owner(ctx)
        if order is None:
            return ctx.escalate("the order or the sender could not be verified")
        clock = Clock(now=ctx.now)
        status = answer(order, ctx.shipments(order), clock)
        told = status.event is not None and status.escalate is None
        if not ctx.guard("status can be told", told, status.escalate or ""):
            return ctx.escalate(status.escalate or "no status to tell")
        reply = notice_for(
            status,
            order,
            brand=ctx.brand,
            clock=clock,
            episode=ctx.episode,
            help_url=ctx.help_url,
            language=ctx.language,
            reschedule_options=ctx.reschedule_options,
        )
        return ctx.done("resolved", f"answered with the status ({status.event})", [reply])
