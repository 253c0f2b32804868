"""The scan: every parcel in flight, in set-based SQL, in one transaction.

1. close the episodes whose problem no longer holds (delivered, back on track...), owing a
   closing notice when the customer heard of the problem and the brand says so;
2. open an episode for each problem found on a parcel (or order) without one: one INSERT ...
   SELECT over shipments joined to orders (``detect.trigger_sql``), ON CONFLICT DO NOTHING on
   the one-open-episode index;
3. mark the follow-ups due (per brand: day 2 and day 5 by default);
4. queue what the episodes owe: in chunks of episodes (never a Python loop over the parcels),
   each notice built by the same ``status.answer`` / ``notice_for`` the agent's WISMO answers
   use, through the outbox (``enqueue_many``, idempotent on the episode's key), in the same
   transaction that opened the episode.
One scanner at a time: PostgreSQL's advisory lock (another scanner returns at once, skipped);
SQLite has one writer anyway. Repeated scans find the episodes open and queue nothing new.
"""

from __future__ import annotations

import gc
import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from tidings.channels.outbox import Outgoing, enqueue_many
from tidings.config.brands import Brand, BrandsFile
from tidings.config.settings import WismoSettings
from tidings.logs import get_logger
from tidings.resolvers.order_api import OPEN, UNSHIPPED
from tidings.store.base import UTCDateTime, utcnow
from tidings.store.brands import sync_brands
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import OrderStatus, Problem, ShipmentStatus, Trigger
from tidings.store.models import (
    Notification,
    Order,
    OrderLine,
    Shipment,
    WismoEpisode,
    WismoScan,
)
from tidings.wismo import policy
from tidings.wismo.detect import (
    DETECTED,
    Clock,
    backorder_sql,
    clock_for,
    in_flight,
    problem_sql,
    trigger_sql,
)
from tidings.wismo.episodes import episode_key
from tidings.wismo.status import answer, closing, notice_for
from tidings.wismo.views import Chunk, load_chunk

log = get_logger(__name__)
E = WismoEpisode
LOCK_KEY = 0x7769_736D_6F  # "wismo": PostgreSQL's advisory lock for the one scanner
# The shipments' partial index predicate, written as the index has it so PostgreSQL uses it.
SHIPMENTS_IN_FLIGHT = text("shipments.status NOT IN ('delivered', 'returned')")
LINES_BACKORDERED = text("order_lines.status = 'backordered'")


@dataclass
class ScanReport:
    """What one scan found and queued."""

    shipments: int = 0
    episodes_opened: int = 0
    closed: int = 0
    follow_ups: int = 0
    enqueued: int = 0
    suppressed: int = 0
    skipped: str | None = None
    seconds: float = 0.0
    suppressed_by: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``."""
        return asdict(self)


@dataclass
class Scanner:
    """Runs the scan on a database for the brands file's brands."""

    sessions: SessionFactory
    brands: BrandsFile
    settings: WismoSettings = field(default_factory=WismoSettings)
    clock: Callable[[], datetime] = utcnow
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    chunk: int = 2000

    def scan(self, *, due_after: timedelta | None = None) -> ScanReport:
        """One scan in one transaction; with ``due_after``, only if no scan finished that
        recently (the worker's schedule: many workers, one scan per period)."""
        started = time.perf_counter()
        now = self.clock()
        with _frozen_heap(), transaction(self.sessions) as session:
            busy = _lock(session)
            if busy is None and due_after is not None:
                busy = _recent(session, now - due_after)
            if busy is not None:
                return ScanReport(skipped=busy)
            report = self._scan(session, now)
        report.seconds = round(time.perf_counter() - started, 3)
        log.info("wismo scan", **{k: v for k, v in report.as_dict().items() if v})
        return report

    def _scan(self, session: Session, now: datetime) -> ScanReport:
        run = WismoScan(scanner=self.owner[:128], started_at=now)
        session.add(run)
        brands = _brands_by_id(session, self.brands)
        clock = clock_for(self.settings, now)
        report = ScanReport(shipments=_in_flight_count(session))
        report.closed = _close(session, clock, brands)
        before = session.scalar(select(func.max(E.id))) or 0
        report.episodes_opened = _open_parcels(session, clock) + _open_backorders(session, now)
        report.follow_ups = _follow_ups_due(session, now, brands)
        # Opened by this scan (their opening notice is owed; no flag to write and clear on
        # 50,000 new rows), then the follow-ups and closings flagged ``pending``.
        for owed in (and_(E.id > before, E.opened_at == now), E.pending.is_not(None)):
            for chunk, episodes in _chunks(session, owed, self.chunk):
                self._tell(session, clock, brands, chunk, episodes, report)
        run.finished_at = self.clock()
        run.shipments, run.opened, run.closed = (
            report.shipments,
            report.episodes_opened,
            report.closed,
        )
        run.follow_ups, run.enqueued = report.follow_ups, report.enqueued
        run.suppressed = report.suppressed
        return report

    def _tell(
        self,
        session: Session,
        clock: Clock,
        brands: dict[int, Brand],
        chunk_of: ColumnElement[bool],
        episodes: list[Any],
        report: ScanReport,
    ) -> None:
        """Queue what one chunk of episodes owes, and settle the episodes."""
        chunk = load_chunk(session, episodes, brands, chunk_of)
        outgoing: list[Outgoing] = []
        reasons: dict[str, list[int]] = defaultdict(list)
        for row in episodes:
            made = _notice(chunk, clock, brands[row.brand_id], row)
            if isinstance(made, str):
                reasons[made].append(row.id)
            else:
                outgoing.append(made)
        report.enqueued += enqueue_many(session=session, rows=outgoing, now=clock.now)
        flagged = any(row.pending != "open" for row in episodes)
        _settle(session, chunk_of, reasons, flagged=flagged)
        for reason, ids in reasons.items():
            report.suppressed += len(ids)
            key = reason.split(":")[0]
            report.suppressed_by[key] = report.suppressed_by.get(key, 0) + len(ids)


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Move the objects alive before the scan (modules, metadata, schemas) out of the garbage
    collector's reach for its duration: the scan allocates hundreds of thousands of short-lived
    objects, and every full collection would walk all the old ones again (a quarter of the
    scan's time at 300,000 parcels)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _notice(chunk: Chunk, clock: Clock, brand: Brand, row: Any) -> Outgoing | str:
    """The outbox row an episode's pending notice becomes, or why it is not sent."""
    order = chunk.orders[row.order_id]
    customer = order.customer
    customer_id = chunk.customer_ids[row.order_id]
    reason = policy.suppressed(
        brand, Problem(row.problem), open_case=row.order_id in chunk.open_cases
    )
    if reason is not None:
        return reason
    parcel = chunk.parcels.get(row.shipment_id or 0) or chunk.latest_parcels.get(row.order_id)
    if row.pending == "close":
        status = closing(row.close_reason or "", parcel)
        episode = episode_key(row.id, close=True)
    else:
        problem = Problem.BACKORDER if row.problem == Problem.BACKORDER else None
        status = answer(order, [parcel] if parcel else [], clock, problem=problem)
        follow_up = row.follow_ups + 1 if row.pending == "follow_up" else 0
        episode = episode_key(row.id, follow_up=follow_up)
    if status is None or status.event is None:
        return "nothing to tell: the parcel's status no longer shows the problem"
    language = policy.language_for(brand, customer.language, chunk.last_languages.get(customer_id))
    notice = notice_for(
        status,
        order,
        brand=brand,
        clock=clock,
        episode=episode,
        help_url=brand.help_url or f"mailto:{brand.senders.email.address}",
        language=language,
    )
    channel, recipient = policy.first_channel(
        brand, customer.channel_order, email=customer.email, phone=customer.phone
    )
    return Outgoing(
        brand_id=row.brand_id,
        brand_slug=brand.slug,
        order_id=row.order_id,
        order_number=order.number,
        customer_id=customer_id,
        event=notice.event,
        episode=episode,
        channel=channel,
        language=language,
        recipient=recipient,
        variables=notice.variables,
        proactive=True,
        wismo_episode_id=row.id,
    )


def _lock(session: Session) -> str | None:
    """Take the one-scanner lock for this transaction; why not, when another scanner has it."""
    if session.get_bind().dialect.name != "postgresql":
        return None  # SQLite: BEGIN IMMEDIATE already made this the only writer
    session.execute(text("SET LOCAL work_mem = '64MB'"))  # the scan's joins stay in memory
    # The CASE's subplans inflate the cost estimate past JIT's threshold, and compiling them
    # costs more than the scan itself (0.6 s of 0.75 s at 100,000 parcels).
    session.execute(text("SET LOCAL jit = off"))
    taken = session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    return None if taken else "another scanner is running"


def _recent(session: Session, since: datetime) -> str | None:
    last = session.scalar(
        select(func.max(WismoScan.started_at)).where(WismoScan.finished_at.is_not(None))
    )
    return f"a scan ran at {last.isoformat()}" if last is not None and last > since else None


def _brands_by_id(session: Session, brands: BrandsFile) -> dict[int, Brand]:
    rows = sync_brands(session=session, brands=brands)
    return {row.id: brands.get(slug) for slug, row in rows.items()}


def _in_flight_count(session: Session) -> int:
    query = select(func.count()).select_from(Shipment).where(SHIPMENTS_IN_FLIGHT)
    return int(session.scalar(query) or 0)


def _close(session: Session, clock: Clock, brands: dict[int, Brand]) -> int:
    """Close the open episodes whose problem no longer holds; owe a closing notice where the
    customer heard of it and the brand tells the end."""
    problem = problem_sql(trigger_sql(clock))
    parcels = (
        select(E.id)
        .join(Shipment, Shipment.id == E.shipment_id)
        .join(Order, Order.id == E.order_id)
        .where(
            E.closed_at.is_(None),
            or_(
                and_(
                    E.problem.in_(list(DETECTED)),
                    or_(problem.is_(None), problem != E.problem),
                ),
                and_(E.problem.not_in(list(DETECTED)), not_(in_flight())),
            ),
        )
    )
    orders = (
        select(E.id)
        .join(Order, Order.id == E.order_id)
        .where(
            E.closed_at.is_(None),
            E.shipment_id.is_(None),
            or_(
                Order.status.not_in(list(OPEN)),
                # A backorder the scan found lasts while a line waits for stock; one a
                # supplier (or a carrier) reported, about an order with no parcel yet, lasts
                # until the order ships: nothing else in the order says it is over.
                and_(E.trigger == Trigger.BACKORDER, not_(backorder_sql())),
                and_(E.trigger != Trigger.BACKORDER, Order.status.not_in(list(UNSHIPPED))),
            ),
        )
    )
    now = clock.now
    closed = session.execute(
        update(E)
        .where(E.id.in_(parcels.union(orders).scalar_subquery()))
        .values(closed_at=now, close_reason=_close_reason(), pending=None)
        .execution_options(synchronize_session=False)
    )
    count = int(closed.rowcount or 0)  # type: ignore[attr-defined]  # CursorResult for UPDATE
    if count:
        _owe_closing_notices(session, now, brands)
    return count


def _close_reason() -> ColumnElement[Any]:
    """Why an episode ends: its parcel delivered or returned, else its order's fate, else the
    problem went away (back on track)."""
    parcel = (
        select(
            case(
                (Shipment.status == ShipmentStatus.DELIVERED, literal("delivered")),
                (Shipment.status == ShipmentStatus.RETURNED, literal("returned")),
                else_=None,
            )
        )
        .where(Shipment.id == E.shipment_id)
        .scalar_subquery()
    )
    order = (
        select(
            case(
                (Order.status == OrderStatus.CANCELLED, literal("cancelled")),
                (Order.status == OrderStatus.DELIVERED, literal("delivered")),
                (Order.status == OrderStatus.RETURNED, literal("returned")),
                else_=literal("back_on_track"),
            )
        )
        .where(Order.id == E.order_id)
        .scalar_subquery()
    )
    return func.coalesce(parcel, order)


def _owe_closing_notices(session: Session, now: datetime, brands: dict[int, Brand]) -> None:
    """Closed now, told before, and the brand tells this end: a closing notice is owed."""
    told = exists().where(Notification.wismo_episode_id == E.id)
    for reason in ("delivered", "back_on_track"):
        wanting = [bid for bid, b in brands.items() if reason in b.policies.outreach.close_notice]
        if not wanting:
            continue
        session.execute(
            update(E)
            .where(
                E.closed_at == now,
                E.close_reason == reason,
                E.brand_id.in_(wanting),
                told,
            )
            .values(pending="close")
            .execution_options(synchronize_session=False)
        )


def _insert(session: Session) -> Any:
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(WismoEpisode.__table__)


COLUMNS = [
    "brand_id",
    "order_id",
    "shipment_id",
    "problem",
    "trigger",
    "opened_at",
    "pending",
    "follow_ups",
]


def _open_parcels(session: Session, clock: Clock) -> int:
    """One INSERT ... SELECT: an episode for each problem found on a parcel without one."""
    found = (
        select(
            Order.brand_id.label("brand_id"),
            Order.id.label("order_id"),
            Shipment.id.label("shipment_id"),
            trigger_sql(clock).label("trigger"),
        )
        .join(Order, Order.id == Shipment.order_id)
        .where(SHIPMENTS_IN_FLIGHT, Order.status.in_(list(OPEN)))
        .subquery("found")
    )
    problem = problem_sql(found.c.trigger)
    known = aliased(WismoEpisode, name="known")
    already = exists().where(
        known.shipment_id == found.c.shipment_id,
        known.problem == problem,
        known.closed_at.is_(None),
    )
    rows = select(
        found.c.brand_id,
        found.c.order_id,
        found.c.shipment_id,
        problem,
        found.c.trigger,
        literal(clock.now, UTCDateTime()),
        literal(None),
        literal(0),
    ).where(found.c.trigger.is_not(None), not_(already))
    result = session.execute(
        _insert(session).from_select(COLUMNS, rows).on_conflict_do_nothing(),
        execution_options={"preserve_rowcount": True},  # INSERTs keep it only when asked
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _open_backorders(session: Session, now: datetime) -> int:
    """An episode for each open order waiting for backordered stock without one."""
    waiting = select(OrderLine.order_id).where(LINES_BACKORDERED)
    known = aliased(WismoEpisode, name="known")
    already = exists().where(
        known.order_id == Order.id,
        known.shipment_id.is_(None),
        known.problem == Problem.BACKORDER,
        known.closed_at.is_(None),
    )
    rows = select(
        Order.brand_id,
        Order.id,
        literal(None),
        literal(Problem.BACKORDER.value),
        literal(Trigger.BACKORDER.value),
        literal(now, UTCDateTime()),
        literal(None),
        literal(0),
    ).where(Order.id.in_(waiting), Order.status.in_(list(OPEN)), not_(already))
    result = session.execute(
        _insert(session).from_select(COLUMNS, rows).on_conflict_do_nothing(),
        execution_options={"preserve_rowcount": True},  # INSERTs keep it only when asked
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _follow_ups_due(session: Session, now: datetime, brands: dict[int, Brand]) -> int:
    """Mark the open episodes whose next follow-up day (per brand) has come."""
    whens = [
        (
            and_(E.brand_id == brand_id, E.follow_ups == n),
            literal(now - timedelta(days=days), UTCDateTime()),
        )
        for brand_id, brand in brands.items()
        for n, days in enumerate(brand.policies.outreach.follow_up_days)
    ]
    if not whens:
        return 0
    due = session.execute(
        update(E)
        .where(E.closed_at.is_(None), E.pending.is_(None), E.opened_at <= case(*whens))
        .values(pending="follow_up")
        .execution_options(synchronize_session=False)
    )
    return int(due.rowcount or 0)  # type: ignore[attr-defined]


def _chunks(
    session: Session, owed: ColumnElement[bool], size: int
) -> Iterable[tuple[ColumnElement[bool], list[Any]]]:
    """(a chunk's condition, its episodes): the episodes owing a notice, ``size`` at a time in
    id order (keyset pages). A new episode owes its opening notice."""
    after = 0
    while True:
        rows = session.execute(
            select(
                E.id,
                E.brand_id,
                E.order_id,
                E.shipment_id,
                E.problem,
                func.coalesce(E.pending, "open").label("pending"),
                E.follow_ups,
                E.close_reason,
            )
            .where(owed, E.id > after)
            .order_by(E.id)
            .limit(size)
        ).all()
        if not rows:
            return
        yield and_(owed, E.id > after, E.id <= rows[-1].id), list(rows)
        after = rows[-1].id


def _settle(
    session: Session, chunk: ColumnElement[bool], reasons: dict[str, list[int]], *, flagged: bool
) -> None:
    """The chunk owes nothing any more; follow-ups count, and the ones not told keep why.
    ``flagged``: some owed a follow-up or a closing (new episodes carry no flag to clear)."""
    for reason, episode_ids in reasons.items():
        session.execute(
            update(E)
            .where(E.id.in_(episode_ids))
            .values(suppressed=reason[:200])
            .execution_options(synchronize_session=False)
        )
    if not flagged:
        return
    quiet = [i for ids in reasons.values() for i in ids]
    told = E.id.not_in(quiet) if quiet else true()
    session.execute(
        update(E)
        .where(chunk, E.pending.is_not(None))
        .values(
            pending=None,
            follow_ups=E.follow_ups + case((E.pending == "follow_up", 1), else_=0),
            suppressed=case((told, None), else_=E.suppressed),
        )
        .execution_options(synchronize_session=False)
    )
