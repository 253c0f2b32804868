"""wismo: tell the customer where their order is, from its shipments (status, ETA)."""

from __future__ import annotations

from tidings.resolvers.base import Resolution, ResolveContext, register
from tidings.resolvers.guards import order_and_owner
from tidings.resolvers.notices import iso, notice
from tidings.wismo.status import answer


@register
class Wismo:
    """Guards: a matched order, and the sender is its customer (the status of someone else's
    order is theirs alone). Delivered-but-missing, customs and exceptions go to a person."""

    category = "wismo"

    def resolve(self, ctx: ResolveContext) -> Resolution:
        """Answer with the notice that tells the order's status."""
        order = order_and_owner(ctx)
        if order is None:
            return ctx.escalate("the order or the sender could not be verified")
        status = answer(order, ctx.shipments(order), ctx.today)
        if not ctx.guard("status can be told", status.event is not None, status.escalate or ""):
            return ctx.escalate(status.escalate or "no status to tell")
        assert status.event is not None  # noqa: S101 - the guard above
        sections = {"delay": {"new_eta": iso(status.eta), "reason": ""}} if status.late else {}
        reply = notice(
            status.event,
            order,
            episode=ctx.episode,
            shipment=status.shipment,
            help_url=ctx.help_url,
            language=ctx.language,
            **sections,
        )
        return ctx.done("resolved", f"answered with the status ({status.event})", [reply])
