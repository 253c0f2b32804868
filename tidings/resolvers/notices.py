"""Template variables for a notice about an order, from what the order API returns.

The outbox stores variables as JSON and the dispatcher renders them at send time in the
customer's language, so dates are ISO strings and money is ``{"amount", "currency"}`` here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tidings.resolvers.base import Notice
from tidings.resolvers.carriers import carrier, tracking_url
from tidings.resolvers.order_api import OrderView, ShipmentView
from tidings.store.enums import ShipmentStatus


def current_shipment(shipments: list[ShipmentView]) -> ShipmentView | None:
    """The parcel a customer asks about: the latest one not yet delivered, else the latest."""
    open_ = [
        s for s in shipments if s.status not in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)
    ]
    chosen = open_ or shipments
    return chosen[-1] if chosen else None


def shipment_vars(shipment: ShipmentView | None, order: OrderView) -> dict[str, Any]:
    """The ``shipment`` section: carrier, tracking and ETA, or only the promised date."""
    if shipment is None:
        eta = order.delivery_date or order.promised_date
        return {"eta": eta.isoformat() if eta else None}
    eta = shipment.eta or order.delivery_date or shipment.promised_date or order.promised_date
    return {
        "carrier_name": carrier(shipment.carrier).name,
        "tracking_number": shipment.tracking_number,
        "tracking_url": tracking_url(shipment.carrier, shipment.tracking_number),
        "eta": eta.isoformat() if eta else None,
    }


def base_vars(order: OrderView, shipment: ShipmentView | None, help_url: str) -> dict[str, Any]:
    """customer, order, shipment and links: the sections every notice has."""
    return {
        "customer": {"name": order.customer.name},
        "order": {
            "number": order.number,
            "total": {"amount": str(order.total), "currency": order.currency},
            "placed_at": order.placed_at.isoformat(),
            "items": [{"name": line.name, "quantity": line.quantity} for line in order.lines],
        },
        "shipment": shipment_vars(shipment, order),
        "links": {"help": help_url},
    }


def notice(
    event: str,
    order: OrderView,
    *,
    episode: str,
    shipment: ShipmentView | None,
    help_url: str,
    language: str | None = None,
    **sections: dict[str, Any],
) -> Notice:
    """A notice of ``event`` to the order's customer, with its event's own sections."""
    variables = base_vars(order, shipment, help_url)
    variables.update(sections)
    return Notice(
        event=event,
        episode=episode,
        order_number=order.number,
        variables=variables,
        language=language,
    )


def iso(day: date | None) -> str | None:
    """A date as the outbox stores it."""
    return day.isoformat() if day else None
