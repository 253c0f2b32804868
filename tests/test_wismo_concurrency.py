"""Scanners at once, and a scan racing a carrier's email: nothing is told twice."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text

from tests.factories import brand_rows
from tests.wismo_support import NOON_IST, episodes, parcel, queued, scanner
from tidings.channels.outbox import enqueue
from tidings.config import BrandsFile
from tidings.resolvers.base import Notice
from tidings.store.db import SessionFactory, make_session_factory, transaction
from tidings.store.enums import Problem
from tidings.store.models import BrandRow, Case, Customer, Order, Shipment
from tidings.wismo.episodes import route
from tidings.wismo.scan import LOCK_KEY, ScanReport

TODAY = NOON_IST.date()


def late_parcels(sessions: SessionFactory, brands: BrandsFile, count: int) -> list[str]:
    """``count`` parcels past their promise; their tracking numbers."""
    with transaction(sessions) as session:
        kapas = brand_rows(session, brands)["kapas"]
        return [
            parcel(session, kapas, promised=TODAY - timedelta(days=2)).tracking_number
            for _ in range(count)
        ]


def at_once(jobs: list[object]) -> list[object]:
    """Run the callables in threads released together; their results (or exceptions)."""
    gate = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(i: int, job: object) -> None:
        gate.wait()
        try:
            results[i] = job()  # type: ignore[operator]
        except Exception as exc:  # reported by the assertions below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_scanners_at_once_tell_each_customer_once(
    sessions: SessionFactory, brands: BrandsFile, engine: Engine
) -> None:
    """Four scanners released together (each its own connection): every late parcel gets one
    episode and one message. On PostgreSQL the advisory lock makes the others skip; on SQLite
    they queue behind the single writer and find the episodes open."""
    late_parcels(sessions, brands, 40)
    own = [make_session_factory(engine) for _ in range(4)]
    reports = at_once([scanner(s, brands).scan for s in own])
    assert all(isinstance(r, ScanReport) for r in reports), reports
    assert sum(r.enqueued for r in reports) == 40  # type: ignore[union-attr]
    rows = queued(sessions)
    assert len(rows) == 40 == len(episodes(sessions))
    assert Counter(r.wismo_episode_id for r in rows).most_common(1)[0][1] == 1


@pytest.mark.postgres
def test_the_second_scanner_returns_at_once(
    sessions: SessionFactory, brands: BrandsFile, engine: Engine
) -> None:
    """While one scan holds the lock another returns, skipped, without waiting for it."""
    late_parcels(sessions, brands, 5)
    holder = make_session_factory(engine)
    with transaction(holder) as session:  # as a scan in progress holds it
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        report = scanner(sessions, brands).scan()
        assert report.skipped == "another scanner is running"
    assert scanner(sessions, brands).scan().enqueued == 5


def test_a_scan_racing_a_carriers_email_tells_once(
    sessions: SessionFactory, brands: BrandsFile, engine: Engine
) -> None:
    """The carrier's delay email reaches the agent while the scan finds the same delay: one
    episode, one message, whoever commits first."""
    [tracking] = late_parcels(sessions, brands, 1)
    with transaction(sessions) as session:
        order = session.scalars(
            select(Order).join(Shipment).where(Shipment.tracking_number == tracking)
        ).one()
        number = order.number
        case = Case(
            brand_id=order.brand_id, order_id=order.id, category="carrier_delay", confidence=0.95
        )
        session.add(case)
        session.flush()
        case_id = case.id
    notice = Notice(
        event="delayed",
        episode="case-7",
        order_number=number,
        variables={"delay": {"new_eta": None, "reason": ""}},
        problem=Problem.DELAY,
        tracking_number=tracking,
    )
    brand = brands.get("kapas")

    def email() -> str:
        """What the agent's notify step does with the carrier's notice."""
        with transaction(make_session_factory(engine)) as session:
            routed = route(session, brand=brand, notice=notice, case_id=case_id, now=NOON_IST)
            assert routed.notice is not None
            order = session.scalars(select(Order).where(Order.number == number)).one()
            enqueue(
                session=session,
                brand=session.get_one(BrandRow, order.brand_id),
                customer=session.get_one(Customer, order.customer_id),
                order=order,
                event=routed.notice.event,
                episode=routed.notice.episode,
                variables=routed.notice.variables,
                proactive=True,
                wismo_episode_id=routed.episode_id,
            )
            return routed.notice.episode

    results = at_once([email, scanner(make_session_factory(engine), brands).scan])
    assert not any(isinstance(r, Exception) for r in results), results
    assert len(episodes(sessions)) == 1
    rows = queued(sessions)
    assert [(r.event, r.wismo_episode_id) for r in rows] == [("delayed", episodes(sessions)[0].id)]
    assert episodes(sessions)[0].problem is Problem.DELAY
    assert episodes(sessions)[0].shipment_id is not None
