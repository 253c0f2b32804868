"""address_change: a customer moves their unshipped order to a new, valid address."""

from __future__ import annotations

from tidings.domain import Address
from tidings.resolvers.addresses import complete, validate
from tidings.resolvers.base import Resolution, ResolveContext, register
from tidings.resolvers.guards import identity_strong_enough, order_and_owner
from tidings.resolvers.notices import notice


@register
class AddressChange:
    """Guards: a matched order, the sender is its customer, nothing shipped, and the new
    address validates for its country. A missing or incomplete address is asked for."""

    category = "address_change"

    def resolve(self, ctx: ResolveContext) -> Resolution:
        """Change the address, or ask the customer to confirm it, or escalate."""
        order = order_and_owner(ctx)
        if order is None:
            return ctx.escalate("the order or the sender could not be verified")
        if not identity_strong_enough(ctx):
            return ctx.escalate("an address change by SMS is confirmed by a person")
        if not ctx.guard("order not yet shipped", order.unshipped, order.status.value):
            return ctx.escalate(f"the order is {order.status.value}: the carrier must redirect it")
        written = ctx.fields.get("new_address")
        new = Address.model_validate(written) if written else None
        checked = validate(complete(new, order.shipping_address)) if new else None
        if checked is None or checked.address is None:
            problems = "no new address written" if checked is None else ", ".join(checked.problems)
            ctx.guard("new address validates", False, problems)
            shown = complete(new, order.shipping_address) if new else order.shipping_address
            ask = notice(
                "address_confirmation_request",
                order,
                episode=ctx.episode,
                shipment=None,
                help_url=ctx.help_url,
                language=ctx.language,
                address={"one_line": shown.one_line()},
            )
            return ctx.done(
                "awaiting_customer", f"asked to confirm the address ({problems})", [ask]
            )
        address = checked.address
        ctx.guard("new address validates", True, address.one_line())
        changed = ctx.act(
            "change_address",
            lambda key: ctx.orders.update_shipping_address(
                order.number, address, idempotency_key=key, actor="agent"
            ),
            order=order,
            request=address.model_dump(mode="json", exclude_none=True),
        )
        done = notice(
            "address_updated",
            changed,
            episode=ctx.episode,
            shipment=None,
            help_url=ctx.help_url,
            language=ctx.language,
            address={"one_line": address.one_line()},
        )
        return ctx.done("resolved", f"address changed to {address.one_line()}", [done])
