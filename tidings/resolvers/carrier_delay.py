"""carrier_delay: a parcel (or a supplier's goods) held up in transport: record the new ETA and
tell every affected customer."""

from __future__ import annotations

from tidings.resolvers.base import Resolution, ResolveContext, register
from tidings.resolvers.carrier import affected_orders, notify_each
from tidings.resolvers.dates import requested_day
from tidings.resolvers.notices import iso
from tidings.store.enums import Problem


@register
class CarrierDelay:
    """Guard: at least one open order is affected. A new ETA, when the message gives one, is
    written through the order API before anyone is told."""

    category = "carrier_delay"

    def resolve(self, ctx: ResolveContext) -> Resolution:
        """Update the ETA and notify each affected customer."""
        orders = affected_orders(ctx)
        if not ctx.guard("affected orders found", bool(orders), f"{len(orders)} order(s)"):
            return ctx.escalate("no open order matches the delay")
        eta = requested_day(ctx.fields.get("requested_date"), "", ctx.today, None)
        reason = str(ctx.fields.get("reason") or "")[:200]
        if eta is not None:
            tracking = ctx.fields.get("tracking_number")
            orders = [
                ctx.act(
                    "set_eta",
                    lambda key, o=order: ctx.orders.set_eta(
                        o.number,
                        eta=eta,
                        reason=reason or "carrier delay",
                        tracking_number=tracking,
                        idempotency_key=key,
                        actor="agent",
                    ),
                    order=order,
                    request={"eta": eta.isoformat(), "tracking_number": tracking},
                )
                for order in orders
            ]
        notices = notify_each(
            ctx,
            orders,
            "delayed",
            lambda _o, _s: {"delay": {"new_eta": iso(eta), "reason": ""}},
            Problem.DELAY,
        )
        return ctx.done("resolved", f"delay noted for {len(orders)} order(s)", notices)
