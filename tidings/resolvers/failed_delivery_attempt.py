"""failed_delivery_attempt (carrier): tell the customer and offer delivery days to choose from."""

from __future__ import annotations

from tidings.resolvers.base import Resolution, ResolveContext, register
from tidings.resolvers.carrier import reported
from tidings.resolvers.dates import delivery_days, requested_day
from tidings.resolvers.guards import order_matched
from tidings.resolvers.notices import current_shipment, iso, notice
from tidings.store.enums import Problem


@register
class FailedDeliveryAttempt:
    """Guard: a matched order. The customer gets the carrier's next attempt (when the carrier
    names one) and the brand's next delivery days; a reply picking one is a reschedule."""

    category = "failed_delivery_attempt"

    def resolve(self, ctx: ResolveContext) -> Resolution:
        """Notify with reschedule options."""
        order = order_matched(ctx)
        if order is None:
            return ctx.escalate("no order matches the parcel")
        policy = ctx.brand.policies
        options = delivery_days(
            ctx.today, ctx.reschedule_options, policy.delivery_days, policy.reschedule_window_days
        )
        next_attempt = requested_day(ctx.fields.get("requested_date"), "", ctx.today, None)
        parcel = current_shipment(ctx.shipments(order))
        told = notice(
            "failed_attempt",
            order,
            episode=ctx.episode,
            shipment=parcel,
            help_url=ctx.help_url,
            attempt={"next_attempt": iso(next_attempt), "reason": ""},
            reschedule={"options": [iso(d) for d in options], "reply_hint": ""},
        )
        told = reported(told, Problem.FAILED_ATTEMPT, parcel)
        return ctx.done("resolved", "told the customer and offered delivery days", [told])
