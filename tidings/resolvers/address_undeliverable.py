"""address_undeliverable (carrier): ask the customer to confirm the address; their reply threads
back to this case and becomes an address_change on it."""

from __future__ import annotations

from tidings.resolvers.base import Resolution, ResolveContext, register
from tidings.resolvers.carrier import reported
from tidings.resolvers.guards import order_matched
from tidings.resolvers.notices import current_shipment, notice
from tidings.store.enums import Problem


@register
class AddressUndeliverable:
    """Guard: a matched open order. Nothing changes on the order: the customer is asked."""

    category = "address_undeliverable"

    def resolve(self, ctx: ResolveContext) -> Resolution:
        """Ask the order's customer to confirm or correct the address."""
        order = order_matched(ctx)
        if order is None:
            return ctx.escalate("no order matches the parcel")
        parcel = current_shipment(ctx.shipments(order))
        ask = notice(
            "address_confirmation_request",
            order,
            episode=ctx.episode,
            shipment=parcel,
            help_url=ctx.help_url,
            address={"one_line": order.shipping_address.one_line()},
        )
        ask = reported(ask, Problem.ADDRESS_ISSUE, parcel)
        return ctx.done("awaiting_customer", "asked the customer to confirm the address", [ask])
