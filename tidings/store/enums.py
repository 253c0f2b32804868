"""State and kind enumerations, stored as plain strings (no native enums to migrate)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum


def str_enum(enum_cls: type[StrEnum]) -> Enum:
    """A VARCHAR column holding the enum's values; no CHECK constraint, so adding a value needs
    no migration on either database."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class ChannelKind(StrEnum):
    """A way to reach a customer."""

    WHATSAPP = "whatsapp"
    EMAIL = "email"
    SMS = "sms"


class OrderStatus(StrEnum):
    """Where an order is in its life."""

    PENDING_PAYMENT = "pending_payment"
    CONFIRMED = "confirmed"
    PACKED = "packed"
    SHIPPED = "shipped"
    PARTIALLY_SHIPPED = "partially_shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"


class LineStatus(StrEnum):
    """The state of one order line."""

    OPEN = "open"
    SHIPPED = "shipped"
    BACKORDERED = "backordered"
    CANCELLED = "cancelled"


class ShipmentStatus(StrEnum):
    """A parcel's normalised carrier status."""

    LABEL_CREATED = "label_created"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    FAILED_ATTEMPT = "failed_attempt"
    HELD_CUSTOMS = "held_customs"
    EXCEPTION = "exception"
    DELIVERED = "delivered"
    RETURNED = "returned"


class EmailState(StrEnum):
    """An inbound email's progress: received -> parsed -> classified -> resolved | escalated."""

    RECEIVED = "received"
    PARSED = "parsed"
    CLASSIFIED = "classified"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    ARCHIVED = "archived"
    QUARANTINED = "quarantined"


class CaseState(StrEnum):
    """A case's progress: the agent works it (open), resolves it, asks the customer, or pauses it
    for a person (escalated); a person's decision (decided) is applied by a worker."""

    OPEN = "open"
    ESCALATED = "escalated"  # in the review queue, paused at the graph's interrupt
    DECIDED = "decided"  # a person decided; a worker resumes the graph with the decision
    AWAITING_CUSTOMER = "awaiting_customer"
    AUTO_RESOLVED = "auto_resolved"
    RESOLVED = "resolved"  # closed by a person (reply sent, or resolved without reply)
    REJECTED = "rejected"  # a person closed it without acting
    ARCHIVED = "archived"  # no exception (``other``): nothing to do, visible and reversible
    FAILED = "failed"  # the agent gave up after retries; ``tidings cases retry`` runs it again


# Cases nobody needs to act on any more; their checkpoints are pruned after a while.
CLOSED_CASE_STATES = frozenset(
    {
        CaseState.AUTO_RESOLVED,
        CaseState.RESOLVED,
        CaseState.REJECTED,
        CaseState.ARCHIVED,
    }
)


class ActionOutcome(StrEnum):
    """What happened to an action against the order API."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class NotificationState(StrEnum):
    """pending -> sending -> sent (-> delivered | read) | failed -> dead; held/dropped by policy."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    DEAD = "dead"
    HELD = "held"
    DROPPED = "dropped"


class TemplateStatus(StrEnum):
    """A template version's publication status."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Role(StrEnum):
    """What a web app user may do: ops work the review queue, brand managers edit their brands'
    templates, admins manage users, brands and kill switches. Everyone sees the dashboard."""

    OPS = "ops"
    BRAND_MANAGER = "brand_manager"
    ADMIN = "admin"


class Problem(StrEnum):
    """What is wrong with a parcel (or an order), as a delay episode tracks it: one open episode
    per shipment and problem, so a customer hears once per new problem."""

    DELAY = "delay"
    FAILED_ATTEMPT = "failed_attempt"
    CUSTOMS_HOLD = "customs_hold"
    EXCEPTION = "exception"
    ADDRESS_ISSUE = "address_issue"
    BACKORDER = "backorder"


class Trigger(StrEnum):
    """Which rule (or which report) opened a delay episode."""

    PROMISE_PASSED = "promise_passed"
    ETA_BEYOND_PROMISE = "eta_beyond_promise"
    NO_SCAN = "no_scan"
    CARRIER_REPORTED = "carrier_reported"
    FAILED_ATTEMPT = "failed_attempt"
    CUSTOMS_HOLD = "customs_hold"
    EXCEPTION = "exception"
    BACKORDER = "backorder"
    CARRIER_EMAIL = "carrier_email"
