"""delivery_reschedule: deliver on the day the customer asks for, within the brand's window."""

from __future__ import annotations

from datetime import timedelta

from tidings.resolvers.base import Resolution, ResolveContext, register
from tidings.resolvers.dates import delivery_days, requested_day
from tidings.resolvers.guards import order_and_owner
from tidings.resolvers.notices import current_shipment, iso, notice
from tidings.resolvers.order_api import RESCHEDULABLE


@register
class DeliveryReschedule:
    """Guards: a matched order of the sender's, in a state a carrier can still reschedule, and a
    delivery day (a business day of the brand, in the customer's time zone) inside the brand's
    window. A day that does not fit gets the next delivery days offered instead."""

    category = "delivery_reschedule"

    def resolve(self, ctx: ResolveContext) -> Resolution:
        """Book the day, or offer days, or escalate."""
        order = order_and_owner(ctx)
        if order is None:
            return ctx.escalate("the order or the sender could not be verified")
        if not ctx.guard("order can be rescheduled", order.status in RESCHEDULABLE):
            return ctx.escalate(f"the order is {order.status.value}")
        policy = ctx.brand.policies
        window = policy.reschedule_window_days
        day = requested_day(ctx.fields.get("requested_date"), ctx.text, ctx.today, ctx.language)
        latest = ctx.today + timedelta(days=window)
        fits = (
            day is not None and ctx.today < day <= latest and day.weekday() in policy.delivery_days
        )
        shipment = current_shipment(ctx.shipments(order))
        if not ctx.guard("a delivery day inside the window", fits, iso(day) or "no day written"):
            options = delivery_days(ctx.today, ctx.reschedule_options, policy.delivery_days, window)
            if not options:
                return ctx.escalate("the brand offers no delivery day in its window")
            offer = notice(
                "reschedule_options",
                order,
                episode=ctx.episode,
                shipment=shipment,
                help_url=ctx.help_url,
                language=ctx.language,
                reschedule={"options": [iso(d) for d in options], "reply_hint": ""},
            )
            return ctx.done("awaiting_customer", "offered other delivery days", [offer])
        assert day is not None  # noqa: S101 - fits implies a day
        slot = ctx.fields.get("requested_slot")
        booked = ctx.act(
            "reschedule",
            lambda key: ctx.orders.reschedule_delivery(
                order.number, on=day, slot=slot, idempotency_key=key, actor="agent"
            ),
            order=order,
            request={"on": day.isoformat(), "slot": slot},
        )
        confirm = notice(
            "reschedule_confirmed",
            booked,
            episode=ctx.episode,
            shipment=shipment,
            help_url=ctx.help_url,
            language=ctx.language,
            reschedule={"date": day.isoformat(), "slot": slot},
        )
        return ctx.done("resolved", f"delivery moved to {day.isoformat()}", [confirm])
