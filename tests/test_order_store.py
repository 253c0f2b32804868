"""The built-in order store: reads, guarded changes, and idempotency keys."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import brand_rows, make_order
from tidings.config import BrandsFile
from tidings.domain import Address
from tidings.errors import OrderNotFoundError, OrderStateError, ResolverError
from tidings.resolvers.order_api import OrderAPI
from tidings.resolvers.order_store import BuiltinOrderStore
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import LineStatus, OrderStatus, ShipmentStatus
from tidings.store.models import AuditEntry, Shipment, TrackingEvent

NEW_ADDRESS = Address(
    lines=["Flat 4B, Lake View Apartments", "Indiranagar"],
    city="Bengaluru",
    state="Karnataka",
    postcode="560038",
    country="IN",
)


@pytest.fixture
def store(sessions: SessionFactory, brands: BrandsFile) -> BuiltinOrderStore:
    with transaction(sessions) as session:
        kapas = brand_rows(session, brands)["kapas"]
        make_order(session, kapas, number="KAP-100001", status=OrderStatus.CONFIRMED)
        shipped = make_order(
            session,
            kapas,
            number="KAP-100002",
            status=OrderStatus.SHIPPED,
            email="ravi@example.in",
            phone="+919800000002",
        )
        shipment = Shipment(
            order_id=shipped.id,
            carrier="delhivery",
            tracking_number="1490811234567",
            status=ShipmentStatus.IN_TRANSIT,
            skus=["KAP-KRT-014"],
            promised_date=utcnow().date() - timedelta(days=1),
        )
        shipment.events = [
            TrackingEvent(
                occurred_at=utcnow() - timedelta(hours=5),
                code="PU",
                status=ShipmentStatus.IN_TRANSIT,
                description="Picked up",
                location="Jaipur",
            ),
        ]
        session.add(shipment)
    return BuiltinOrderStore(sessions)


def _audit_count(sessions: SessionFactory) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


class TestReads:
    def test_is_an_order_api(self, store: BuiltinOrderStore) -> None:
        """The built-in store satisfies the protocol resolvers use."""
        assert isinstance(store, OrderAPI)

    def test_get_order(self, store: BuiltinOrderStore) -> None:
        """An order comes back with its customer, lines and address."""
        order = store.get_order("kap-100001")
        assert order is not None
        assert (order.number, order.brand, order.customer.name) == (
            "KAP-100001",
            "kapas",
            "Asha Rao",
        )
        assert str(order.total) == "1499.00"
        assert order.shipping_address.city == "Bengaluru"
        assert store.get_order("KAP-999999") is None

    def test_find_by_contact(self, store: BuiltinOrderStore) -> None:
        """Orders are found by the customer's email (any case) or phone."""
        assert [o.number for o in store.find_orders(email="RAVI@example.in")] == ["KAP-100002"]
        assert [o.number for o in store.find_orders(phone="+919800000001")] == ["KAP-100001"]
        assert store.find_orders() == []

    def test_shipments_with_events(self, store: BuiltinOrderStore) -> None:
        """Shipments carry their scans and know when they are late."""
        [parcel] = store.list_shipments("KAP-100002")
        assert parcel.tracking_number == "1490811234567"
        assert [e.code for e in parcel.events] == ["PU"]
        assert parcel.is_late(utcnow().date())
        with pytest.raises(OrderNotFoundError):
            store.list_shipments("KAP-404404")


class TestChanges:
    def test_address_change_is_applied_and_audited(
        self, store: BuiltinOrderStore, sessions: SessionFactory
    ) -> None:
        """The new address is stored, with before and after in the audit log."""
        order = store.update_shipping_address(
            "KAP-100001", NEW_ADDRESS, idempotency_key="k1", actor="agent"
        )
        assert order.shipping_address == NEW_ADDRESS
        with sessions() as session:
            entry = session.scalars(select(AuditEntry)).one()
        assert entry.before is not None and entry.before["shipping_address"]["postcode"] == "560001"
        assert entry.after is not None and entry.after["shipping_address"]["postcode"] == "560038"

    def test_same_key_applies_once(
        self, store: BuiltinOrderStore, sessions: SessionFactory
    ) -> None:
        """Replaying a change with its key changes nothing more."""
        store.update_shipping_address(
            "KAP-100001", NEW_ADDRESS, idempotency_key="k1", actor="agent"
        )
        other = NEW_ADDRESS.model_copy(update={"postcode": "560001"})
        replay = store.update_shipping_address(
            "KAP-100001", other, idempotency_key="k1", actor="agent"
        )
        assert replay.shipping_address.postcode == "560038"
        assert _audit_count(sessions) == 1

    def test_racing_calls_with_one_key_apply_once(
        self, store: BuiltinOrderStore, sessions: SessionFactory
    ) -> None:
        """Concurrent calls with the same key: one change, one audit entry, no error."""
        errors: list[BaseException] = []

        def call() -> None:
            try:
                store.cancel_order(
                    "KAP-100001", reason="changed mind", idempotency_key="race", actor="agent"
                )
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert _audit_count(sessions) == 1
        order = store.get_order("KAP-100001")
        assert order is not None and order.status is OrderStatus.CANCELLED

    def test_a_key_reused_for_another_change_is_refused(self, store: BuiltinOrderStore) -> None:
        """A key already used for one change cannot pass for a different change's success."""
        store.update_shipping_address(
            "KAP-100001", NEW_ADDRESS, idempotency_key="k9", actor="agent"
        )
        with pytest.raises(ResolverError, match="own key"):
            store.cancel_order("KAP-100001", reason="x", idempotency_key="k9", actor="agent")
        order = store.get_order("KAP-100001")
        assert order is not None and order.status is OrderStatus.CONFIRMED

    def test_shipped_order_address_is_refused(self, store: BuiltinOrderStore) -> None:
        """A parcel already on its way keeps its address; the error says why."""
        with pytest.raises(OrderStateError, match="state shipped"):
            store.update_shipping_address(
                "KAP-100002", NEW_ADDRESS, idempotency_key="k2", actor="agent"
            )

    def test_cancel_unshipped_only(self, store: BuiltinOrderStore) -> None:
        """Cancelling marks the order and its lines; a shipped order cannot be cancelled."""
        order = store.cancel_order(
            "KAP-100001", reason="duplicate", idempotency_key="c1", actor="agent"
        )
        assert order.status is OrderStatus.CANCELLED
        assert {line.status for line in order.lines} == {LineStatus.CANCELLED}
        with pytest.raises(OrderStateError):
            store.cancel_order("KAP-100002", reason="late", idempotency_key="c2", actor="agent")

    def test_reschedule(self, store: BuiltinOrderStore) -> None:
        """A future date and slot are stored; a past date is refused."""
        day = utcnow().date() + timedelta(days=3)
        order = store.reschedule_delivery(
            "KAP-100002", on=day, slot="after 6 pm", idempotency_key="r1", actor="agent"
        )
        assert (order.delivery_date, order.delivery_slot) == (day, "after 6 pm")
        with pytest.raises(OrderStateError, match="already"):
            store.reschedule_delivery(
                "KAP-100002",
                on=day - timedelta(days=10),
                slot=None,
                idempotency_key="r2",
                actor="agent",
            )

    def test_unknown_order(self, store: BuiltinOrderStore) -> None:
        """Changing an order that does not exist says so."""
        with pytest.raises(OrderNotFoundError):
            store.cancel_order("KAP-000000", reason="x", idempotency_key="u1", actor="agent")
