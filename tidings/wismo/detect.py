"""Delay rules: when a parcel (or an order) has a problem worth telling its customer about.

The rules, for a parcel in flight (not delivered or returned) of an open order:
- its status is a problem of its own: ``failed_attempt``, ``held_customs`` (customs_hold),
  ``exception``;
- otherwise it is a ``delay`` when the promise date has passed in the customer's time zone
  (the promise: a delivery day the customer chose, else the parcel's, else the order's, else
  the carrier's ETA), when the carrier's or the predicted ETA is beyond the promise, when the
  carrier reported a delay that no later update took back, or when the carrier has not
  scanned it for N of its working hours (per carrier, ``TIDINGS_WISMO__*``);
- an open order with a line the supplier backordered has a ``backorder`` (no parcel needed).

The same rules are written twice: as SQL expressions the scan evaluates over every parcel in
flight at once (``trigger_sql``), and in Python for one order (``problem_of``, which the status
answer uses). The tests check that both agree. A customer's own question is answered without
the no-scan rule (it needs the carriers' hours); the open episode's problem, which the order
API's parcels carry, tells them what the scan found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    not_,
    select,
)

from tidings.channels.policy import zone_of
from tidings.config.settings import WismoSettings
from tidings.resolvers.order_api import OPEN, OrderView, ShipmentView
from tidings.store.base import UTCDateTime
from tidings.store.enums import LineStatus, Problem, ShipmentStatus, Trigger
from tidings.store.models import Customer, Order, OrderLine, Shipment

S = ShipmentStatus
IN_FLIGHT = (
    *(S.LABEL_CREATED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY),
    *(S.FAILED_ATTEMPT, S.HELD_CUSTOMS, S.EXCEPTION),
)
# Statuses that are a problem by themselves; a delay is only looked for in the others.
STATUS_PROBLEMS: dict[ShipmentStatus, tuple[Problem, Trigger]] = {
    S.FAILED_ATTEMPT: (Problem.FAILED_ATTEMPT, Trigger.FAILED_ATTEMPT),
    S.HELD_CUSTOMS: (Problem.CUSTOMS_HOLD, Trigger.CUSTOMS_HOLD),
    S.EXCEPTION: (Problem.EXCEPTION, Trigger.EXCEPTION),
}
DELAY_TRIGGERS = (
    Trigger.PROMISE_PASSED,
    Trigger.ETA_BEYOND_PROMISE,
    Trigger.CARRIER_REPORTED,
    Trigger.NO_SCAN,
)
# Problems the scan finds itself (and so closes when they no longer hold); an address issue is
# only ever reported by a carrier's email and lasts until the parcel's end.
DETECTED = frozenset(Problem) - {Problem.ADDRESS_ISSUE}


@dataclass(frozen=True)
class Hours:
    """A carrier's working hours and how many of them without a scan make a parcel stalled."""

    stale_after: float
    days: tuple[int, ...]
    start: time
    end: time
    zone: ZoneInfo

    def cutoff(self, now: datetime) -> datetime:
        """The moment ``stale_after`` working hours before ``now``: a parcel whose last scan is
        older is stalled. Counted in UTC, so a daylight-saving change neither adds nor loses an
        hour."""
        left = timedelta(hours=self.stale_after)
        day = now.astimezone(self.zone).date()
        for _ in range(3660):  # ten years of days: far beyond any configured threshold
            if day.weekday() in self.days:
                opens = datetime.combine(day, self.start, tzinfo=self.zone).astimezone(UTC)
                closes = datetime.combine(day, self.end, tzinfo=self.zone).astimezone(UTC)
                until = min(closes, now)
                if until > opens:
                    if until - opens >= left:
                        return until - left
                    left -= until - opens
            day -= timedelta(days=1)
        return now - timedelta(days=3660)


@dataclass(frozen=True)
class Clock:
    """The moment a scan or an answer runs, with what depends on it: the customer's local day,
    and per carrier the moment before which a parcel without a scan is stalled."""

    now: datetime
    stale_before: Mapping[str, datetime] = field(default_factory=dict)
    stale_default: datetime | None = None

    @property
    def utc_today(self) -> date:
        """Today in UTC."""
        return self.now.astimezone(UTC).date()

    def today_in(self, zone: str) -> date:
        """Today in a customer's time zone (UTC for a name that is not a zone)."""
        return self.now.astimezone(zone_of(zone)).date()

    def stalled_before(self, carrier: str) -> datetime | None:
        """Before this moment, no scan from ``carrier`` means the parcel is stalled."""
        return self.stale_before.get(carrier, self.stale_default)

    def zones_off_utc(self) -> tuple[list[str], list[str]]:
        """(zones already on tomorrow, zones still on yesterday) compared with UTC now."""
        return _zones_off_utc(self.now)


def clock_for(settings: WismoSettings, now: datetime) -> Clock:
    """The clock of a scan at ``now`` with the configured carriers' hours."""
    default = hours_for(settings, None)
    carriers = {name: hours_for(settings, name).cutoff(now) for name in settings.carriers}
    return Clock(now=now, stale_before=carriers, stale_default=default.cutoff(now))


def hours_for(settings: WismoSettings, carrier: str | None) -> Hours:
    """A carrier's hours: its own settings over the defaults."""
    own = settings.carriers.get(carrier or "")
    return Hours(
        stale_after=(own.stale_after_hours if own else None) or settings.stale_after_hours,
        days=tuple((own.days if own else None) or settings.days),
        start=(own.start if own else None) or settings.start,
        end=(own.end if own else None) or settings.end,
        zone=zone_of((own.time_zone if own else None) or settings.time_zone),
    )


# -- Python: one order ------------------------------------------------------------------------


def promise_of(order: OrderView, parcel: ShipmentView) -> date | None:
    """The day the customer was promised: one they chose, else the parcel's, else the order's,
    else (nothing was promised) the carrier's own ETA."""
    return (
        order.delivery_date
        or parcel.promised_date
        or order.promised_date
        or parcel.eta
        or parcel.predicted_eta
    )


def problem_of(
    order: OrderView, parcel: ShipmentView, clock: Clock
) -> tuple[Problem, Trigger] | None:
    """The parcel's problem and what shows it, or None (the rules above)."""
    if parcel.status not in IN_FLIGHT or order.status not in OPEN:
        return None
    if parcel.status in STATUS_PROBLEMS:
        return STATUS_PROBLEMS[parcel.status]
    promise = promise_of(order, parcel)
    eta = parcel.eta or parcel.predicted_eta
    if promise is not None and promise < clock.today_in(order.customer.time_zone):
        return Problem.DELAY, Trigger.PROMISE_PASSED
    if promise is not None and eta is not None and eta > promise:
        return Problem.DELAY, Trigger.ETA_BEYOND_PROMISE
    if parcel.delay_reported_at is not None:
        return Problem.DELAY, Trigger.CARRIER_REPORTED
    cutoff = clock.stalled_before(parcel.carrier)
    seen = parcel.last_scan_at or parcel.shipped_at
    if cutoff is not None and seen is not None and seen < cutoff:
        return Problem.DELAY, Trigger.NO_SCAN
    return None


def backordered(order: OrderView) -> bool:
    """An open order waiting for stock the supplier backordered."""
    return order.status in OPEN and any(
        line.status is LineStatus.BACKORDERED for line in order.lines
    )


# -- SQL: every parcel in flight at once -------------------------------------------------------


def in_flight() -> ColumnElement[bool]:
    """A parcel on its way, of an order still open (the scan joins shipments to orders)."""
    return and_(Shipment.status.in_(IN_FLIGHT), Order.status.in_(list(OPEN)))


def trigger_sql(clock: Clock) -> ColumnElement[Any]:
    """What shows a shipment's problem (joined to its order), NULL when it has none: the rules
    above as one CASE, in order; ``problem_sql`` names the problem."""
    ahead, behind = clock.zones_off_utc()
    today = clock.utc_today
    eta = func.coalesce(Shipment.eta, Shipment.predicted_eta)
    promise = func.coalesce(Order.delivery_date, Shipment.promised_date, Order.promised_date, eta)
    local_today = (
        select(
            case(
                (
                    Customer.time_zone.in_(bindparam("ahead", ahead, expanding=True)),
                    literal(today + timedelta(days=1), Date()),
                ),
                (
                    Customer.time_zone.in_(bindparam("behind", behind, expanding=True)),
                    literal(today - timedelta(days=1), Date()),
                ),
                else_=literal(today, Date()),
            )
        )
        .where(Customer.id == Order.customer_id)
        .scalar_subquery()
    )
    # Only a promise on yesterday or today (UTC) depends on the customer's zone: the customer's
    # row is read for those alone.
    passed = case(
        (promise < today - timedelta(days=1), True),
        (promise > today, False),
        else_=promise < local_today,
    )
    seen = func.coalesce(Shipment.last_scan_at, Shipment.shipped_at, Shipment.created_at)
    whens: list[tuple[ColumnElement[Any], ColumnElement[Any]]] = [
        (not_(in_flight()), literal(None)),
        *(
            (Shipment.status == status, literal(trigger.value))
            for status, (_, trigger) in STATUS_PROBLEMS.items()
        ),
        (passed, literal(Trigger.PROMISE_PASSED.value)),
        (eta > promise, literal(Trigger.ETA_BEYOND_PROMISE.value)),
        (Shipment.delay_reported_at.is_not(None), literal(Trigger.CARRIER_REPORTED.value)),
        (seen < _stale_before(clock), literal(Trigger.NO_SCAN.value)),
    ]
    return case(*whens, else_=None)


def problem_sql(trigger: ColumnElement[Any]) -> ColumnElement[Any]:
    """The problem a trigger shows: a status names its own, every other trigger is a delay."""
    delays = [t.value for t in DELAY_TRIGGERS]
    return case((trigger.in_(delays), literal(Problem.DELAY.value)), else_=trigger)


def backorder_sql() -> ColumnElement[bool]:
    """An open order with a backordered line (the partial index on such lines finds them)."""
    line = exists().where(
        OrderLine.order_id == Order.id, OrderLine.status == LineStatus.BACKORDERED
    )
    return and_(Order.status.in_(list(OPEN)), line)


def _stale_before(clock: Clock) -> ColumnElement[Any]:
    """The stalled-before moment of each shipment's carrier (NULL: never stalled)."""
    named = [
        (Shipment.carrier == carrier, literal(moment, UTCDateTime()))
        for carrier, moment in clock.stale_before.items()
    ]
    default = literal(clock.stale_default, UTCDateTime())
    return case(*named, else_=default) if named else default


@lru_cache(maxsize=4)
def _zones_off_utc(now: datetime) -> tuple[list[str], list[str]]:
    today = now.astimezone(UTC).date()
    ahead, behind = [], []
    for name in sorted(available_timezones()):
        local = now.astimezone(ZoneInfo(name)).date()
        if local > today:
            ahead.append(name)
        elif local < today:
            behind.append(name)
    return ahead or ["-"], behind or ["-"]  # an empty IN () is not SQL everywhere
