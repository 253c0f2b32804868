"""The status of an order as a customer should hear it: which notice, with which ETA.

The agent's ``wismo`` resolver answers an inbound "where is my order?" with this, and proactive
delay notices use the same function, so both directions say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tidings.resolvers.order_api import OrderView, ShipmentView
from tidings.store.enums import OrderStatus, ShipmentStatus


@dataclass(frozen=True)
class StatusAnswer:
    """The notice event that tells the status, or why a person must answer instead."""

    event: str | None
    eta: date | None
    shipment: ShipmentView | None
    escalate: str | None = None
    late: bool = False


def answer(order: OrderView, shipments: list[ShipmentView], today: date) -> StatusAnswer:
    """What to tell the customer about ``order`` today."""
    if order.status is OrderStatus.CANCELLED:
        return StatusAnswer(None, None, None, escalate="the order is cancelled")
    open_parcels = [
        s for s in shipments if s.status not in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)
    ]
    if not shipments:
        eta = order.delivery_date or order.promised_date
        late = eta is not None and eta < today
        return StatusAnswer("delayed" if late else "order_confirmed", eta, None, late=late)
    if not open_parcels:
        # "Tracking says delivered but nothing arrived" needs a person and the carrier.
        return StatusAnswer(None, None, shipments[-1], escalate="the parcel shows as delivered")
    parcel = open_parcels[-1]
    eta = parcel.eta or order.delivery_date or parcel.promised_date or order.promised_date
    if parcel.status in (ShipmentStatus.EXCEPTION, ShipmentStatus.HELD_CUSTOMS):
        return StatusAnswer(
            None, eta, parcel, escalate=f"the parcel is in {parcel.status.value.replace('_', ' ')}"
        )
    if parcel.is_late(today) or (eta is not None and eta < today):
        return StatusAnswer("delayed", eta if eta and eta >= today else None, parcel, late=True)
    if parcel.status is ShipmentStatus.OUT_FOR_DELIVERY:
        return StatusAnswer("out_for_delivery", eta, parcel)
    if parcel.status is ShipmentStatus.LABEL_CREATED:
        return StatusAnswer("order_confirmed", eta, parcel)
    return StatusAnswer("shipped", eta, parcel)
