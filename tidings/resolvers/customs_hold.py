"""customs_hold (carrier): tell the customer what customs needs; documents go to a person."""

from __future__ import annotations

import re

from tidings.resolvers.base import Resolution, ResolveContext, register
from tidings.resolvers.carrier import affected_orders, notify_each
from tidings.store.enums import Problem

# Customs asking for documents (ID, KYC, invoices, permits) needs a person to guide the customer.
DOCUMENTS = re.compile(
    r"\b(?:document|documents|kyc|aadhaar|pan card|passport|invoice|permit|licen[cs]e|npwp|ktp"
    r"|dokumen|faktur|izin|lesen|dokumen sokongan)\b|दस्तावेज़|दस्तावेज|केवाईसी",
    re.IGNORECASE,
)
DUTY = re.compile(
    r"\b(?:dut(?:y|ies)|tax(?:es)?|payment|pay|bea masuk|pajak|cukai|bayar|duti)\b|शुल्क|भुगतान",
    re.IGNORECASE,
)
# The action, in the customer's language: the template prints it as "what to do".
PAY_DUTY = {
    "en": "pay the import duty using the courier's payment link",
    "hi": "कूरियर के भुगतान लिंक से आयात शुल्क का भुगतान करें",
    "id": "bayar bea masuk melalui tautan pembayaran dari kurir",
    "ms": "bayar duti import melalui pautan pembayaran daripada kurier",
}


@register
class CustomsHold:
    """Guards: an affected open order, and customs wants a payment (not documents)."""

    category = "customs_hold"

    def resolve(self, ctx: ResolveContext) -> Resolution:
        """Notify the customer of the duty to pay, or escalate for documents."""
        orders = affected_orders(ctx)
        if not ctx.guard("affected orders found", bool(orders), f"{len(orders)} order(s)"):
            return ctx.escalate("no open order matches the parcel")
        documents = DOCUMENTS.search(ctx.text) is not None
        if not ctx.guard("no documents needed", not documents):
            return ctx.escalate("customs needs documents from the customer")
        if not ctx.guard("customs wants a payment", DUTY.search(ctx.text) is not None):
            return ctx.escalate("what customs needs is unclear")
        notices = notify_each(
            ctx,
            orders,
            "customs_action_needed",
            lambda order, _s: {
                "customs": {"action": PAY_DUTY.get(order.customer.language, PAY_DUTY["en"])}
            },
            Problem.CUSTOMS_HOLD,
        )
        return ctx.done("resolved", "told the customer about the duty to pay", notices)
