"""The status of an order as a customer should hear it: which notice, with which ETA.

The agent's ``wismo`` resolver answers an inbound "where is my order?" with ``answer`` and
``notice_for``, and the proactive scan builds its notices with the same two functions, so both
directions say the same thing: the same problem (an open delay episode's, else the delay rules
of ``detect.py``), the same ETA, the same template.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from tidings.config.brands import Brand
from tidings.resolvers.base import Notice
from tidings.resolvers.dates import delivery_days
from tidings.resolvers.notices import iso, notice
from tidings.resolvers.order_api import OrderView, ShipmentView
from tidings.store.enums import LineStatus, OrderStatus, Problem, ShipmentStatus
from tidings.wismo.detect import Clock, backordered, problem_of

# The notice that tells each problem.
EVENTS = {
    Problem.DELAY: "delayed",
    Problem.FAILED_ATTEMPT: "failed_attempt",
    Problem.CUSTOMS_HOLD: "delayed",
    Problem.EXCEPTION: "delayed",
    Problem.ADDRESS_ISSUE: "address_confirmation_request",
    Problem.BACKORDER: "backorder_update",
}
# Problems whose next step only a person can find out (customs' demands, a lost or damaged
# parcel): a customer who asks gets a person; told first, they hear it is delayed and followed.
NEEDS_PERSON = {
    Problem.CUSTOMS_HOLD: "the parcel is held in customs",
    Problem.EXCEPTION: "the parcel is in exception",
}
# A problem's end, as the customer hears it.
CLOSE_EVENTS = {"delivered": "delivered", "back_on_track": "back_on_track"}
_DONE = (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)


@dataclass(frozen=True)
class StatusAnswer:
    """The notice event that tells the status, or why a person must answer instead."""

    event: str | None
    eta: date | None
    shipment: ShipmentView | None
    escalate: str | None = None
    late: bool = False
    problem: Problem | None = None


def answer(
    order: OrderView,
    shipments: list[ShipmentView],
    clock: Clock,
    *,
    problem: Problem | None = None,
) -> StatusAnswer:
    """What to tell the customer about ``order`` now; ``problem`` names an order-level problem
    to tell (a backorder) when the scan found one."""
    today = clock.today_in(order.customer.time_zone)
    if order.status is OrderStatus.CANCELLED:
        return StatusAnswer(None, None, None, escalate="the order is cancelled")
    open_parcels = [s for s in shipments if s.status not in _DONE]
    if problem is Problem.BACKORDER or (not open_parcels and backordered(order)):
        return _backorder(order, today)
    if not shipments:
        eta = order.delivery_date or order.promised_date
        late = eta is not None and eta < today
        return StatusAnswer("delayed" if late else "order_confirmed", eta, None, late=late)
    if not open_parcels:
        # "Tracking says delivered but nothing arrived" needs a person and the carrier.
        return StatusAnswer(None, None, shipments[-1], escalate="the parcel shows as delivered")
    parcel = open_parcels[-1]
    eta = (
        parcel.eta
        or parcel.predicted_eta
        or order.delivery_date
        or parcel.promised_date
        or order.promised_date
    )
    found = Problem(parcel.problem) if parcel.problem else _detected(order, parcel, clock)
    if found is not None:
        return StatusAnswer(
            EVENTS[found],
            eta if eta and eta >= today else None,
            parcel,
            escalate=NEEDS_PERSON.get(found),
            late=True,
            problem=found,
        )
    if parcel.status is ShipmentStatus.OUT_FOR_DELIVERY:
        return StatusAnswer("out_for_delivery", eta, parcel)
    if parcel.status is ShipmentStatus.LABEL_CREATED:
        return StatusAnswer("order_confirmed", eta, parcel)
    return StatusAnswer("shipped", eta, parcel)


def notice_for(
    status: StatusAnswer,
    order: OrderView,
    *,
    brand: Brand,
    clock: Clock,
    episode: str,
    help_url: str,
    language: str | None = None,
    reschedule_options: int = 3,
) -> Notice:
    """The notice that tells ``status`` (its event must be set), with its event's sections."""
    if status.event is None:
        raise ValueError("this status has no notice: a person answers it")
    today = clock.today_in(order.customer.time_zone)
    sections: dict[str, dict[str, Any]] = {}
    if status.event == "delayed":
        sections["delay"] = {"new_eta": iso(status.eta), "reason": ""}
    elif status.event == "failed_attempt":
        policy = brand.policies
        days = delivery_days(
            today, reschedule_options, policy.delivery_days, policy.reschedule_window_days
        )
        sections["attempt"] = {"next_attempt": None, "reason": ""}
        sections["reschedule"] = {"options": [iso(d) for d in days], "reply_hint": ""}
    elif status.event == "backorder_update":
        waiting = [line.name for line in order.lines if line.status is LineStatus.BACKORDERED]
        items = waiting or [line.name for line in order.lines]
        sections["backorder"] = {"items": items, "eta": iso(status.eta)}
    elif status.event == "address_confirmation_request":
        sections["address"] = {"one_line": order.shipping_address.one_line()}
    return notice(
        status.event,
        order,
        episode=episode,
        shipment=status.shipment,
        help_url=help_url,
        language=language,
        **sections,
    )


def closing(reason: str, shipment: ShipmentView | None) -> StatusAnswer | None:
    """The answer that tells a problem is over: delivered, or back on track (about a parcel);
    None for an end the customer is not told about (a return, a cancellation) or with no parcel
    to point to."""
    event = CLOSE_EVENTS.get(reason)
    if event is None or shipment is None:
        return None
    eta = shipment.eta or shipment.predicted_eta
    return StatusAnswer(event, eta, shipment)


def _detected(order: OrderView, parcel: ShipmentView, clock: Clock) -> Problem | None:
    found = problem_of(order, parcel, clock)
    return found[0] if found else None


def _backorder(order: OrderView, today: date) -> StatusAnswer:
    eta = order.promised_date if order.promised_date and order.promised_date >= today else None
    return StatusAnswer("backorder_update", eta, None, late=True, problem=Problem.BACKORDER)
