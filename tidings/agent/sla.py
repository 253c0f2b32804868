"""When a person must have decided an escalated case: the SLA of its category and brand.

The review queue is ordered by due time, then priority (never by last activity), so both are
written on the case row when it is escalated (``escalate``), counted from the email's arrival:
the customer has waited since then, whatever the agent did meanwhile. A brand's
``policies.sla_hours`` beats ``TIDINGS_AGENT__SLA_HOURS``, which beats the defaults here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tidings.config.brands import Brand
from tidings.config.settings import AgentSettings

# Hours to a decision. What the carrier or warehouse acts on within the day (an address before
# the parcel ships, a cancellation before packing, "where is it?") is due soonest; damage and
# refunds, which need photos and a refund decision, within a day.
DEFAULT_SLA_HOURS: dict[str, float] = {
    "address_change": 2,
    "wismo": 2,
    "cancellation_request": 2,
    "delivery_reschedule": 4,
    "failed_delivery_attempt": 4,
    "address_undeliverable": 4,
    "payment_issue": 8,
    "customs_hold": 8,
    "carrier_delay": 12,
    "backorder_stockout": 12,
    "partial_shipment": 12,
    "damaged_item": 24,
    "wrong_or_missing_item": 24,
    "return_refund_request": 24,
    "other": 48,
}
FALLBACK_SLA_HOURS = 24.0
# Among cases due at the same time, money and goods that cannot be undone come first.
DEFAULT_PRIORITY: dict[str, int] = {
    "cancellation_request": 1,
    "address_change": 1,
    "payment_issue": 2,
    "damaged_item": 3,
    "wrong_or_missing_item": 3,
    "other": 9,
}
FALLBACK_PRIORITY = 5


@dataclass(frozen=True)
class Due:
    """When the case is due and how it ranks among cases due together (1 first)."""

    at: datetime
    priority: int


def sla_hours(category: str, brand: Brand | None, settings: AgentSettings) -> float:
    """Hours a person has for a case of ``category`` at ``brand``."""
    if brand is not None and category in brand.policies.sla_hours:
        return brand.policies.sla_hours[category]
    merged = {**DEFAULT_SLA_HOURS, **settings.sla_hours}
    return merged.get(category, FALLBACK_SLA_HOURS)


def due(category: str, brand: Brand | None, settings: AgentSettings, *, arrived: datetime) -> Due:
    """The case's due time and priority."""
    priority = {**DEFAULT_PRIORITY, **settings.review_priority}.get(category, FALLBACK_PRIORITY)
    return Due(arrived + timedelta(hours=sla_hours(category, brand, settings)), priority)
