"""Delay episodes: one per parcel and problem, so a customer hears once per new problem.

An episode opens when a problem is first found (by the scan, or reported in a carrier's email),
owes the customer one notice, then follow-ups while it lasts, and closes when the problem no
longer holds (``scan.py``). Every notice it sends carries the episode in its outbox key
(``wismo-<id>``, ``wismo-<id>-f1``, ``wismo-<id>-close``), so the same event about the same
problem is queued once, whoever reports it: a carrier's delay email and an AfterShip webhook
about the same delay make one message.

``route`` is how the agent's carrier resolvers (carrier_delay, failed_delivery_attempt,
customs_hold, address_undeliverable) speak: their notice's report joins the parcel's tracking
history, opens (or finds) the episode, and the outreach policy decides whether it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.config.brands import Brand
from tidings.resolvers.base import Notice
from tidings.store.enums import Problem, ShipmentStatus, Trigger
from tidings.store.models import Order, Shipment, WismoEpisode
from tidings.wismo import policy
from tidings.wismo.events import Checkpoint, TrackingUpdate, find_shipment, ingest

# What a carrier's email about a problem says of the parcel's status (None: no news).
EMAIL_STATUS = {
    Problem.FAILED_ATTEMPT: ShipmentStatus.FAILED_ATTEMPT,
    Problem.CUSTOMS_HOLD: ShipmentStatus.HELD_CUSTOMS,
}


def episode_key(episode_id: int, *, follow_up: int = 0, close: bool = False) -> str:
    """The outbox episode of an episode's notice: its opening, its n-th follow-up, its end."""
    if close:
        return f"wismo-{episode_id}-close"
    return f"wismo-{episode_id}-f{follow_up}" if follow_up else f"wismo-{episode_id}"


@dataclass(frozen=True)
class Routed:
    """A notice after its episode: the notice to queue (None: the customer does not hear it,
    ``reason`` says why) and the episode it tells."""

    notice: Notice | None
    episode_id: int | None = None
    reason: str | None = None


def open_episode(
    session: Session,
    *,
    order: Order,
    shipment_id: int | None,
    problem: Problem,
    trigger: Trigger,
    now: datetime,
    case_id: int | None = None,
) -> WismoEpisode:
    """The open episode of this parcel (or order) and problem, opened now if there is none."""
    found = _open(session, order.id, shipment_id, problem)
    if found is not None:
        return found
    row = WismoEpisode(
        brand_id=order.brand_id,
        order_id=order.id,
        shipment_id=shipment_id,
        problem=problem,
        trigger=trigger,
        case_id=case_id,
        opened_at=now,
        follow_ups=0,
    )
    try:
        with session.begin_nested():  # a scan opening it at the same moment wins: use its row
            session.add(row)
    except IntegrityError:
        winner = _open(session, order.id, shipment_id, problem)
        if winner is None:
            raise
        return winner
    return row


def route(
    session: Session,
    *,
    brand: Brand,
    notice: Notice,
    case_id: int,
    now: datetime,
    reported_at: datetime | None = None,
) -> Routed:
    """A carrier-reported problem's notice through its parcel's history and episode, in the
    caller's transaction; ``reported_at`` is when the carrier said it (the email's date), which
    orders the report among the parcel's tracking updates. A notice about an order the local
    store does not hold goes as it is."""
    if notice.problem is None or notice.order_number is None:
        return Routed(notice)
    order = session.scalar(select(Order).where(Order.number == notice.order_number))
    if order is None:
        return Routed(notice)
    shipment = _parcel(session, order, notice.tracking_number)
    if shipment is not None:
        said = min(reported_at or now, now)  # a Date header from the future is not believed
        ingest(session=session, update=_reported(notice, notice.problem, shipment, case_id, said))
    episode = open_episode(
        session,
        order=order,
        shipment_id=shipment.id if shipment else None,
        problem=notice.problem,
        trigger=Trigger.CARRIER_EMAIL,
        now=now,
        case_id=case_id,
    )
    open_case = order.id in policy.open_case_orders(session, [order.id])
    reason = policy.suppressed(brand, notice.problem, open_case=open_case)
    if reason is not None:
        episode.suppressed = reason
        return Routed(None, episode.id, reason)
    told = notice.model_copy(update={"episode": episode_key(episode.id)})
    return Routed(told, episode.id)


def _open(
    session: Session, order_id: int, shipment_id: int | None, problem: Problem
) -> WismoEpisode | None:
    return session.scalar(
        select(WismoEpisode).where(
            WismoEpisode.order_id == order_id,
            func.coalesce(WismoEpisode.shipment_id, 0) == (shipment_id or 0),
            WismoEpisode.problem == problem,
            WismoEpisode.closed_at.is_(None),
        )
    )


def _parcel(session: Session, order: Order, tracking_number: str | None) -> Shipment | None:
    if not tracking_number:
        return None
    found = find_shipment(session, tracking_number, None)
    return found if found is not None and found.order_id == order.id else None


def _reported(
    notice: Notice, problem: Problem, shipment: Shipment, case_id: int, said: datetime
) -> TrackingUpdate:
    """What the carrier's email said, as a tracking update (one per case, parcel and problem,
    so a replay of the agent's step adds nothing)."""
    status = EMAIL_STATUS.get(problem)
    delay = notice.variables.get("delay") or {}
    eta = date.fromisoformat(delay["new_eta"]) if delay.get("new_eta") else None
    return TrackingUpdate(
        source="email",
        event_id=f"case-{case_id}:{shipment.tracking_number}:{problem.value}"[:100],
        tracking_number=shipment.tracking_number,
        carrier=shipment.carrier,
        occurred_at=said,
        status=status,
        code=f"email:{problem.value}"[:32],
        eta=eta,
        delay=problem is Problem.DELAY,
        checkpoints=[
            Checkpoint(
                occurred_at=said,
                status=status or shipment.status,
                code=problem.value,
                description=f"reported by the carrier's email (case {case_id})",
            )
        ],
    )
