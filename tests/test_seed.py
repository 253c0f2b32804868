"""The demo data generator: every state, every language, late parcels, anchors intact."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from tidings.config import BrandsFile
from tidings.demo.seed import load_anchors, seed_demo
from tidings.resolvers.order_store import BuiltinOrderStore
from tidings.store.db import SessionFactory, make_engine, make_session_factory
from tidings.store.enums import OrderStatus, ShipmentStatus
from tidings.store.migrate import upgrade
from tidings.store.models import Customer, Order, Shipment, TrackingEvent

NOW = datetime.fromisoformat("2026-11-23T10:00:00+00:00")


class TestSeed:
    def test_world_covers_every_state_and_language(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A small seed already has orders in every state, all four languages, late parcels."""
        report = seed_demo(session_factory=sessions, brands=brands, orders=600, now=NOW)
        assert set(report.orders_by_status) == {s.value for s in OrderStatus}
        assert set(report.customers_by_language) == {"en", "hi", "id", "ms"}
        assert report.late_shipments > 0
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(Order)) == report.orders
            # What the demo prints is what the tables hold.
            assert session.scalar(select(func.count()).select_from(Customer)) == report.customers
            assert (
                session.scalar(select(func.count()).select_from(TrackingEvent))
                == report.tracking_events
            )
            statuses = set(session.scalars(select(Shipment.status).distinct()))
            assert statuses >= {
                ShipmentStatus.IN_TRANSIT,
                ShipmentStatus.DELIVERED,
                ShipmentStatus.FAILED_ATTEMPT,
            }
            future_scans = session.scalar(
                select(func.count())
                .select_from(TrackingEvent)
                .where(TrackingEvent.occurred_at > NOW)
            )
            assert future_scans == 0

    def test_same_seed_same_world(self, brands: BrandsFile, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """Two runs with one seed and one time write the same orders, parcels and scans."""
        snapshots = []
        for run in ("a", "b"):
            url = f"sqlite:///{tmp_path / run}.db"
            upgrade(url)
            engine = make_engine(url)
            factory = make_session_factory(engine)
            seed_demo(session_factory=factory, brands=brands, orders=120, now=NOW, seed=7)
            with factory() as session:
                rows = session.execute(
                    select(Order.number, Order.status, Order.total_minor, Shipment.tracking_number)
                    .outerjoin(Shipment)
                    .order_by(Order.number)
                ).all()
            engine.dispose()
            snapshots.append(rows)
        assert snapshots[0] == snapshots[1]
        assert len(snapshots[0]) >= 120

    def test_anchor_orders_match_the_sample_emails(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Every anchor order is in the store with its customer and tracking numbers."""
        anchors = load_anchors()
        assert anchors.customers, "the demo ships anchor customers"
        seed_demo(session_factory=sessions, brands=brands, orders=50, now=NOW)
        store = BuiltinOrderStore(sessions)
        for customer in anchors.customers:
            for spec in customer.orders:
                order = store.get_order(spec.number)
                assert order is not None, spec.number
                assert order.customer.email == customer.email.lower()
                assert order.status is spec.status
                tracking = {s.tracking_number for s in store.list_shipments(spec.number)}
                assert tracking == {s.tracking_number for s in spec.shipments}

    def test_customers_have_consent_rows(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Each customer has a consent record per channel, with some opt-outs."""
        seed_demo(session_factory=sessions, brands=brands, orders=300, now=NOW)
        with sessions() as session:
            customers = session.scalars(select(Customer)).all()
            assert all(len(c.consents) == 3 for c in customers)
            assert any(c.source == "reply STOP" for cu in customers for c in cu.consents)
