"""The ``OrderAPI`` protocol: everything Tidings reads from or changes in a shop's order system.

Resolvers only ever talk to this protocol. The built-in store (``order_store.py``) implements it
on Tidings' own database for the demo and for small shops; a Shopify or in-house client would
implement the same calls.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from tidings.domain import Address
from tidings.store.enums import LineStatus, OrderStatus, ShipmentStatus


class CustomerView(BaseModel):
    """The customer of an order, as resolvers and templates see them."""

    name: str
    email: str | None
    phone: str | None
    language: str
    time_zone: str
    channel_order: list[str]


class OrderLineView(BaseModel):
    """One product line."""

    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    status: LineStatus


class TrackingEventView(BaseModel):
    """One carrier scan."""

    occurred_at: datetime
    code: str
    status: ShipmentStatus
    description: str
    location: str | None


class ShipmentView(BaseModel):
    """One parcel and its tracking history, newest event last."""

    carrier: str
    tracking_number: str
    status: ShipmentStatus
    skus: list[str]
    shipped_at: datetime | None
    promised_date: date | None
    eta: date | None
    delivered_at: datetime | None
    events: list[TrackingEventView]
    # What proactive WISMO knows beyond the carrier's word; an order API may leave them out.
    predicted_eta: date | None = None
    last_scan_at: datetime | None = None
    delay_reported_at: datetime | None = None
    problem: str | None = Field(
        default=None, description="the open delay episode's problem, when Tidings tracks one"
    )

    def is_late(self, today: date) -> bool:
        """Not delivered and its promised date has passed."""
        undelivered = self.status not in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)
        return undelivered and self.promised_date is not None and self.promised_date < today


class OrderView(BaseModel):
    """An order as the order API returns it."""

    number: str
    brand: str
    status: OrderStatus
    currency: str
    total: Decimal
    placed_at: datetime
    customer: CustomerView
    shipping_address: Address
    lines: list[OrderLineView]
    promised_date: date | None
    delivery_date: date | None
    delivery_slot: str | None

    @property
    def unshipped(self) -> bool:
        """Nothing has left the warehouse yet: the address can still change, the order cancel."""
        return self.status in UNSHIPPED


class PurchaseOrderView(BaseModel):
    """A brand's order to a supplier, as supplier mail names it."""

    number: str
    brand: str
    supplier: str
    skus: list[str]
    expected_date: date | None


UNSHIPPED = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.CONFIRMED, OrderStatus.PACKED})
# A carrier can still be asked to deliver another day.
RESCHEDULABLE = frozenset(
    {
        OrderStatus.CONFIRMED,
        OrderStatus.PACKED,
        OrderStatus.SHIPPED,
        OrderStatus.PARTIALLY_SHIPPED,
        OrderStatus.OUT_FOR_DELIVERY,
    }
)
OPEN = UNSHIPPED | {
    OrderStatus.SHIPPED,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.OUT_FOR_DELIVERY,
}


@runtime_checkable
class OrderAPI(Protocol):
    """Read and change orders. Changes take an idempotency key: repeating a call with the same key
    returns the order as it is and changes nothing."""

    def get_order(self, number: str) -> OrderView | None:
        """The order with this number, or None."""
        ...

    def find_orders(
        self, *, email: str | None = None, phone: str | None = None, limit: int = 10
    ) -> list[OrderView]:
        """A customer's orders, newest first, by email address or E.164 phone number."""
        ...

    def list_shipments(self, number: str) -> list[ShipmentView]:
        """The parcels of an order with their tracking events."""
        ...

    def find_order_by_tracking(self, tracking_number: str) -> OrderView | None:
        """The order a parcel belongs to, by its tracking number (carrier mail names these)."""
        ...

    def get_purchase_order(self, number: str) -> PurchaseOrderView | None:
        """A purchase order to a supplier, by its number (supplier mail names these)."""
        ...

    def find_open_orders(self, *, brand: str, skus: list[str], limit: int = 500) -> list[OrderView]:
        """A brand's open orders that contain any of these SKUs, oldest first."""
        ...

    def update_shipping_address(
        self, number: str, address: Address, *, idempotency_key: str, actor: str
    ) -> OrderView:
        """Change where an unshipped order goes."""
        ...

    def reschedule_delivery(
        self, number: str, *, on: date, slot: str | None, idempotency_key: str, actor: str
    ) -> OrderView:
        """Ask for delivery on another day (and slot)."""
        ...

    def cancel_order(
        self, number: str, *, reason: str, idempotency_key: str, actor: str
    ) -> OrderView:
        """Cancel an order that has not shipped."""
        ...

    def set_eta(
        self,
        number: str,
        *,
        eta: date,
        reason: str,
        tracking_number: str | None,
        idempotency_key: str,
        actor: str,
    ) -> OrderView:
        """Record a new expected delivery date for an order's parcel (or the whole order)."""
        ...
