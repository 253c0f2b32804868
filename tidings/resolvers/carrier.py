"""What carrier and supplier resolvers share: the orders a message is about, and notices to
their customers in each customer's own language."""

from __future__ import annotations

from collections.abc import Callable

from tidings.resolvers.base import Notice, ResolveContext
from tidings.resolvers.notices import current_shipment, notice
from tidings.resolvers.order_api import OPEN, OrderView, ShipmentView


def affected_orders(ctx: ResolveContext) -> list[OrderView]:
    """The matched order and every other order the message names (a PO's waiting orders, a
    bulk notice's parcels), open ones only, each once."""
    found: dict[str, OrderView] = {}
    if ctx.order is not None:
        found[ctx.order.number] = ctx.order
    for number in ctx.affected_orders:
        if number not in found:
            view = ctx.orders.get_order(number)
            if view is not None:
                found[number] = view
    return [o for o in found.values() if o.status in OPEN]


def notify_each(
    ctx: ResolveContext,
    orders: list[OrderView],
    event: str,
    sections: Callable[[OrderView, ShipmentView | None], dict[str, object]],
) -> list[Notice]:
    """One notice per order; the customer's profile language (the sender is not the customer)."""
    notices = []
    for order in orders:
        shipment = current_shipment(ctx.shipments(order))
        notices.append(
            notice(
                event,
                order,
                episode=ctx.episode,
                shipment=shipment,
                help_url=ctx.help_url,
                **sections(order, shipment),  # type: ignore[arg-type]
            )
        )
    return notices
