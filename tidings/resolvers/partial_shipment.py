"""partial_shipment (supplier/warehouse): tell each customer which items left and which follow."""

from __future__ import annotations

from tidings.resolvers.base import Resolution, ResolveContext, register
from tidings.resolvers.carrier import affected_orders, notify_each
from tidings.resolvers.dates import requested_day
from tidings.resolvers.notices import iso
from tidings.resolvers.order_api import OrderView, ShipmentView


@register
class PartialShipment:
    """Guard: at least one affected open order. Shipped items are those in its parcels."""

    category = "partial_shipment"

    def resolve(self, ctx: ResolveContext) -> Resolution:
        """Notify every affected customer of the split."""
        orders = affected_orders(ctx)
        if not ctx.guard("affected orders found", bool(orders), f"{len(orders)} order(s)"):
            return ctx.escalate("no open order matches the shipment")
        eta = requested_day(ctx.fields.get("requested_date"), "", ctx.today, None)
        named = set(ctx.fields.get("skus") or [])

        def sections(order: OrderView, _shipment: ShipmentView | None) -> dict[str, object]:
            sent = {sku for parcel in ctx.shipments(order) for sku in parcel.skus}
            if not sent and named:  # the warehouse names what it is holding back
                sent = {line.sku for line in order.lines} - named
            shipped = [line.name for line in order.lines if line.sku in sent]
            pending = [line.name for line in order.lines if line.sku not in sent]
            return {
                "partial": {
                    "shipped_items": shipped,
                    "pending_items": pending,
                    "pending_eta": iso(eta),
                }
            }

        notices = notify_each(ctx, orders, "partial_shipment", sections)
        return ctx.done("resolved", f"split told for {len(orders)} order(s)", notices)
