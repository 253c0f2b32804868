"""backorder_stockout (supplier): find the orders waiting for the stock, record the new ETA,
and tell each customer what is late, with the choice to wait or cancel."""

from __future__ import annotations

from tidings.resolvers.base import Resolution, ResolveContext, register
from tidings.resolvers.carrier import affected_orders, notify_each
from tidings.resolvers.dates import requested_day
from tidings.resolvers.notices import iso
from tidings.store.enums import Problem


@register
class BackorderStockout:
    """Guard: at least one open order waits for the SKUs the supplier names."""

    category = "backorder_stockout"

    def resolve(self, ctx: ResolveContext) -> Resolution:
        """Update ETAs and notify every waiting customer."""
        orders = affected_orders(ctx)
        if not ctx.guard("affected orders found", bool(orders), f"{len(orders)} order(s)"):
            return ctx.escalate("no open order waits for this stock")
        skus = set(ctx.fields.get("skus") or [])
        eta = requested_day(ctx.fields.get("requested_date"), "", ctx.today, None)
        if eta is not None:
            orders = [
                ctx.act(
                    "set_eta",
                    lambda key, o=order: ctx.orders.set_eta(
                        o.number,
                        eta=eta,
                        reason="backorder",
                        tracking_number=None,
                        idempotency_key=key,
                        actor="agent",
                    ),
                    order=order,
                    request={"eta": eta.isoformat()},
                )
                for order in orders
            ]

        def sections(order: object, _shipment: object) -> dict[str, object]:
            lines = getattr(order, "lines", [])
            late = [line.name for line in lines if not skus or line.sku in skus]
            return {"backorder": {"items": late or [line.name for line in lines], "eta": iso(eta)}}

        notices = notify_each(ctx, orders, "backorder_update", sections, Problem.BACKORDER)
        return ctx.done("resolved", f"backorder noted for {len(orders)} order(s)", notices)
