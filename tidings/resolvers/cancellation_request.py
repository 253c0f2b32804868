"""cancellation_request: cancel an unshipped order inside the brand's cancellation window."""

from __future__ import annotations

from datetime import timedelta

from tidings.resolvers.base import Resolution, ResolveContext, register
from tidings.resolvers.guards import order_and_owner
from tidings.resolvers.notices import notice

REFUND_DAYS = 7


@register
class CancellationRequest:
    """Guards: a matched order of the sender's, nothing shipped, placed within the brand's
    cancellation window."""

    category = "cancellation_request"

    def resolve(self, ctx: ResolveContext) -> Resolution:
        """Cancel, or escalate."""
        order = order_and_owner(ctx)
        if order is None:
            return ctx.escalate("the order or the sender could not be verified")
        if not ctx.guard("order not yet shipped", order.unshipped, order.status.value):
            return ctx.escalate(f"the order is {order.status.value}: a return, not a cancellation")
        window = timedelta(hours=ctx.brand.policies.cancellation_window_hours)
        inside = ctx.now - order.placed_at <= window
        if not ctx.guard("inside the cancellation window", inside, f"{window} after placing"):
            return ctx.escalate("the order is past the brand's cancellation window")
        reason = str(ctx.fields.get("reason") or "customer request")[:200]
        cancelled = ctx.act(
            "cancel_order",
            lambda key: ctx.orders.cancel_order(
                order.number, reason=reason, idempotency_key=key, actor="agent"
            ),
            order=order,
            request={"reason": reason},
        )
        refund = {"amount": str(cancelled.total), "currency": cancelled.currency}
        confirm = notice(
            "cancellation_confirmed",
            cancelled,
            episode=ctx.episode,
            shipment=None,
            help_url=ctx.help_url,
            language=ctx.language,
            cancellation={"refund_amount": refund, "refund_days": REFUND_DAYS},
        )
        return ctx.done("resolved", "order cancelled", [confirm])
