"""What carrier and supplier resolvers share: the orders a message is about, and notices to
their customers in each customer's own language. Their notices name the problem reported, so
the agent's notify step sends each through the parcel's delay episode (``tidings.wismo``): the
customer hears of one problem once, whether a carrier's email or a tracking webhook tells us."""

from __future__ import annotations

from collections.abc import Callable

from tidings.resolvers.base import Notice, ResolveContext
from tidings.resolvers.notices import current_shipment, notice
from tidings.resolvers.order_api import OPEN, OrderView, ShipmentView
from tidings.store.enums import Problem


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
    problem: Problem | None = None,
) -> list[Notice]:
    """One notice per order; the customer's profile language (the sender is not the customer).
    With ``problem``, each names it, so it goes through the parcel's delay episode."""
    notices = []
    for order in orders:
        shipment = current_shipment(ctx.shipments(order))
        told = notice(
            event,
            order,
            episode=ctx.episode,
            shipment=shipment,
            help_url=ctx.help_url,
            **sections(order, shipment),  # type: ignore[arg-type]
        )
        notices.append(reported(told, problem, shipment) if problem else told)
    return notices


def reported(told: Notice, problem: Problem, shipment: ShipmentView | None) -> Notice:
    """A notice about a problem a carrier or supplier reported on a parcel (a backorder is the
    order's, whatever its parcels do)."""
    parcel = shipment if problem is not Problem.BACKORDER else None
    tracking = parcel.tracking_number if parcel else None
    return told.model_copy(update={"problem": problem, "tracking_number": tracking})
