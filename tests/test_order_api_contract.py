"""One ``OrderAPI`` contract, two implementations: the built-in store on a seeded database, and
``RestOrderAPI`` against the tests' REST order service loaded with the same orders. Each test runs
against both, so both provably read, refuse and apply changes (once per key) the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.http import LoopbackOnly
from tests.order_service import TOKEN, OrderService, serve_orders
from tidings.config import BrandsFile
from tidings.config.settings import OrderAPISettings
from tidings.demo.seed import seed_demo
from tidings.domain import Address
from tidings.errors import OrderNotFoundError, OrderStateError, ResolverError
from tidings.resolvers.order_api import OPEN, OrderAPI
from tidings.resolvers.order_store import BuiltinOrderStore
from tidings.resolvers.rest_api import RestOrderAPI
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import LineStatus, OrderStatus, ShipmentStatus
from tidings.store.models import AuditEntry, BrandRow, Customer, Order, PurchaseOrder, Shipment

NEW_ADDRESS = Address(
    lines=["Flat 4B, Lake View Apartments", "Indiranagar"],
    city="Bengaluru",
    state="Karnataka",
    postcode="560038",
    country="IN",
)
WAITING = (LineStatus.OPEN, LineStatus.BACKORDERED)


@dataclass(frozen=True)
class Picks:
    """Orders of the seeded world chosen by what they are."""

    unshipped: str
    shipped: str
    parcel: str
    finished: str
    email: str
    phone: str
    numbers_of_customer: list[str]
    brand: str
    sku: str
    purchase_order: str


@dataclass
class World:
    """One implementation with the seeded orders, and how many changes it applied."""

    api: OrderAPI
    applied: Callable[[], int]
    picks: Picks


def _pick(sessions: SessionFactory) -> Picks:
    with sessions() as session:

        def first(*where: object) -> str:
            query = select(Order.number).where(*where).order_by(Order.id).limit(1)
            return str(session.scalars(query).one())

        shipped = session.execute(
            select(Order.number, Shipment.tracking_number)
            .join(Shipment, Shipment.order_id == Order.id)
            .where(Order.status == OrderStatus.SHIPPED)
            .where(Shipment.status == ShipmentStatus.IN_TRANSIT)
            .order_by(Order.id)
            .limit(1)
        ).one()
        email, phone = session.execute(
            select(Customer.email, Customer.phone)
            .join(Order, Order.customer_id == Customer.id)
            .group_by(Customer.email, Customer.phone)
            .order_by(func.count().desc(), Customer.email)
            .limit(1)
        ).one()
        numbers = session.scalars(
            select(Order.number)
            .join(Order.customer)
            .where(Customer.email == email)
            .order_by(Order.placed_at.desc())
        ).all()
        open_order = session.scalars(
            select(Order).where(Order.status.in_(list(OPEN))).order_by(Order.id)
        ).first()
        assert open_order is not None
        sku = next(line.sku for line in open_order.lines if line.status in WAITING)
        return Picks(
            unshipped=first(Order.status == OrderStatus.CONFIRMED),
            shipped=shipped.number,
            parcel=shipped.tracking_number,
            finished=first(Order.status == OrderStatus.DELIVERED),
            email=email,
            phone=phone,
            numbers_of_customer=list(numbers),
            brand=open_order.brand.slug,
            sku=sku,
            purchase_order="SUP-PO-1187",
        )


@pytest.fixture
def seeded(sessions: SessionFactory, brands: BrandsFile) -> tuple[SessionFactory, Picks]:
    """40 demo orders (plus the anchors) and a purchase order for one open order's SKU."""
    seed_demo(session_factory=sessions, brands=brands, orders=40)
    picks = _pick(sessions)
    with transaction(sessions) as session:
        brand = session.scalars(select(BrandRow).where(BrandRow.slug == picks.brand)).one()
        session.add(
            PurchaseOrder(
                number=picks.purchase_order,
                brand_id=brand.id,
                supplier="Jaipur Looms",
                skus=[picks.sku],
                expected_date=utcnow().date() + timedelta(days=10),
            )
        )
    return sessions, picks


def service_from(store: BuiltinOrderStore, sessions: SessionFactory) -> OrderService:
    """The REST service holding exactly what the built-in store holds."""
    with sessions() as session:
        numbers = list(session.scalars(select(Order.number).order_by(Order.id)))
        po_numbers = list(session.scalars(select(PurchaseOrder.number)))
    orders = {n: view for n in numbers if (view := store.get_order(n)) is not None}
    purchase_orders = {n: po for n in po_numbers if (po := store.get_purchase_order(n))}
    return OrderService(
        orders=orders,
        shipments={n: store.list_shipments(n) for n in numbers},
        purchase_orders=purchase_orders,
    )


def _rest_client(service: OrderService) -> RestOrderAPI:
    settings = OrderAPISettings(kind="rest", base_url=service.url, token=TOKEN, retries=1)
    return RestOrderAPI(settings, transport=LoopbackOnly(), backoff_seconds=0.01)


@pytest.fixture(params=["builtin", "rest"])
def world(request: pytest.FixtureRequest, seeded: tuple[SessionFactory, Picks]) -> Iterator[World]:
    sessions, picks = seeded
    store = BuiltinOrderStore(sessions)
    if request.param == "builtin":

        def audited() -> int:
            with sessions() as session:
                return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)

        yield World(api=store, applied=audited, picks=picks)
        return
    with serve_orders(service_from(store, sessions)) as service, _rest_client(service) as api:
        yield World(api=api, applied=service.applications, picks=picks)


class TestReads:
    def test_get_order(self, world: World) -> None:
        """An order by number, with its customer and lines; an unknown number is None."""
        order = world.api.get_order(world.picks.unshipped)
        assert order is not None and order.number == world.picks.unshipped
        assert order.status is OrderStatus.CONFIRMED and order.unshipped and order.lines
        assert world.api.get_order("NOPE-000000") is None

    def test_find_orders_by_email_or_phone(self, world: World) -> None:
        """A customer's orders newest first, by email (any case) or phone; limit honoured."""
        picks = world.picks
        by_email = world.api.find_orders(email=picks.email.upper())
        assert [o.number for o in by_email] == picks.numbers_of_customer
        by_phone = world.api.find_orders(phone=picks.phone)
        assert [o.number for o in by_phone] == picks.numbers_of_customer
        assert len(world.api.find_orders(email=picks.email, limit=1)) == 1
        assert world.api.find_orders(email="nobody@example.invalid") == []
        assert world.api.find_orders() == []

    def test_list_shipments(self, world: World) -> None:
        """An order's parcels with their scans; no order is OrderNotFoundError."""
        parcels = world.api.list_shipments(world.picks.shipped)
        assert world.picks.parcel in [p.tracking_number for p in parcels]
        assert all(p.events for p in parcels)
        with pytest.raises(OrderNotFoundError):
            world.api.list_shipments("NOPE-000000")

    def test_tracking_lookup(self, world: World) -> None:
        """A parcel's order by tracking number, spaces ignored; an unknown one is None."""
        parcel = world.picks.parcel
        spaced = f" {parcel[:4]} {parcel[4:]} "
        found = world.api.find_order_by_tracking(spaced)
        assert found is not None and found.number == world.picks.shipped
        assert world.api.find_order_by_tracking("ZZ000000000ZZ") is None

    def test_purchase_order(self, world: World) -> None:
        """A purchase order by number; an unknown one is None."""
        po = world.api.get_purchase_order(world.picks.purchase_order)
        assert po is not None
        assert (po.brand, po.skus) == (world.picks.brand, [world.picks.sku])
        assert world.api.get_purchase_order("PO-NOPE") is None

    def test_open_orders_by_sku(self, world: World) -> None:
        """The brand's open orders waiting for the SKUs, oldest first; no SKUs, no orders."""
        picks = world.picks
        waiting = world.api.find_open_orders(brand=picks.brand, skus=[picks.sku, "NO-SUCH-SKU"])
        assert waiting
        for order in waiting:
            assert order.brand == picks.brand and order.status in OPEN
            assert any(li.sku == picks.sku and li.status in WAITING for li in order.lines)
        assert [o.placed_at for o in waiting] == sorted(o.placed_at for o in waiting)
        assert len(world.api.find_open_orders(brand=picks.brand, skus=[picks.sku], limit=1)) == 1
        assert world.api.find_open_orders(brand=picks.brand, skus=[]) == []


class TestWrites:
    def test_address_change(self, world: World) -> None:
        """An unshipped order's address changes; a shipped one's is refused."""
        picks = world.picks
        moved = world.api.update_shipping_address(
            picks.unshipped, NEW_ADDRESS, idempotency_key="a1", actor="agent"
        )
        assert moved.shipping_address == NEW_ADDRESS
        again = world.api.get_order(picks.unshipped)
        assert again is not None and again.shipping_address == NEW_ADDRESS
        with pytest.raises(OrderStateError):
            world.api.update_shipping_address(
                picks.shipped, NEW_ADDRESS, idempotency_key="a2", actor="agent"
            )
        assert world.applied() == 1

    def test_reschedule(self, world: World) -> None:
        """A future day and slot are booked; a day in the customer's past is refused."""
        picks = world.picks
        day = utcnow().date() + timedelta(days=5)
        booked = world.api.reschedule_delivery(
            picks.shipped, on=day, slot="after 6 pm", idempotency_key="r1", actor="agent"
        )
        assert (booked.delivery_date, booked.delivery_slot) == (day, "after 6 pm")
        with pytest.raises(OrderStateError):
            world.api.reschedule_delivery(
                picks.shipped,
                on=day - timedelta(days=20),
                slot=None,
                idempotency_key="r2",
                actor="agent",
            )
        with pytest.raises(OrderStateError):
            world.api.reschedule_delivery(
                picks.finished, on=day, slot=None, idempotency_key="r3", actor="agent"
            )
        assert world.applied() == 1

    def test_cancel(self, world: World) -> None:
        """An unshipped order and its lines are cancelled; a shipped one cannot be."""
        picks = world.picks
        cancelled = world.api.cancel_order(
            picks.unshipped, reason="changed mind", idempotency_key="c1", actor="agent"
        )
        assert cancelled.status is OrderStatus.CANCELLED
        assert {line.status for line in cancelled.lines} == {LineStatus.CANCELLED}
        with pytest.raises(OrderStateError):
            world.api.cancel_order(picks.shipped, reason="late", idempotency_key="c2", actor="a")
        assert world.applied() == 1

    def test_set_eta(self, world: World) -> None:
        """The parcel's ETA moves; a delivered order takes no ETA."""
        picks = world.picks
        eta = utcnow().date() + timedelta(days=9)
        world.api.set_eta(
            picks.shipped,
            eta=eta,
            reason="carrier delay",
            tracking_number=picks.parcel,
            idempotency_key="e1",
            actor="agent",
        )
        parcels = world.api.list_shipments(picks.shipped)
        assert [p.eta for p in parcels if p.tracking_number == picks.parcel] == [eta]
        with pytest.raises(OrderStateError):
            world.api.set_eta(
                picks.finished,
                eta=eta,
                reason="late",
                tracking_number=None,
                idempotency_key="e2",
                actor="agent",
            )
        assert world.applied() == 1

    def test_a_repeated_key_applies_once(self, world: World) -> None:
        """Replaying a change with its key (even with other arguments) changes nothing more."""
        picks = world.picks
        world.api.update_shipping_address(
            picks.unshipped, NEW_ADDRESS, idempotency_key="k1", actor="agent"
        )
        other = NEW_ADDRESS.model_copy(update={"postcode": "560001"})
        replay = world.api.update_shipping_address(
            picks.unshipped, other, idempotency_key="k1", actor="agent"
        )
        assert replay.shipping_address.postcode == "560038"
        for _ in range(2):
            world.api.cancel_order(picks.unshipped, reason="x", idempotency_key="k2", actor="a")
        assert world.applied() == 2

    def test_a_key_reused_for_another_change_is_refused(self, world: World) -> None:
        """A key cannot pass one change off as another's success; nothing changes."""
        picks = world.picks
        world.api.update_shipping_address(
            picks.unshipped, NEW_ADDRESS, idempotency_key="k9", actor="agent"
        )
        with pytest.raises((ResolverError, OrderStateError)) as caught:
            world.api.cancel_order(picks.unshipped, reason="x", idempotency_key="k9", actor="a")
        assert not caught.value.transient
        order = world.api.get_order(picks.unshipped)
        assert order is not None and order.status is OrderStatus.CONFIRMED
        assert world.applied() == 1

    def test_unknown_order(self, world: World) -> None:
        """Every change to an order that does not exist is OrderNotFoundError."""
        day = utcnow().date() + timedelta(days=3)
        calls: list[Callable[[], object]] = [
            lambda: world.api.update_shipping_address(
                "NOPE-1", NEW_ADDRESS, idempotency_key="u1", actor="a"
            ),
            lambda: world.api.reschedule_delivery(
                "NOPE-1", on=day, slot=None, idempotency_key="u2", actor="a"
            ),
            lambda: world.api.cancel_order("NOPE-1", reason="x", idempotency_key="u3", actor="a"),
            lambda: world.api.set_eta(
                "NOPE-1", eta=day, reason="x", tracking_number=None, idempotency_key="u4", actor="a"
            ),
        ]
        for call in calls:
            with pytest.raises(OrderNotFoundError):
                call()
        assert world.applied() == 0


def test_rest_answers_what_the_store_answers(seeded: tuple[SessionFactory, Picks]) -> None:
    """Over every seeded order, customer and SKU, the REST client returns exactly the views the
    built-in store returns: one shape, one ordering."""
    sessions, _ = seeded
    store = BuiltinOrderStore(sessions)
    service = service_from(store, sessions)
    with serve_orders(service), _rest_client(service) as api:
        for number, view in service.orders.items():
            assert api.get_order(number) == view
            assert api.list_shipments(number) == store.list_shipments(number)
            contact = view.customer
            assert api.find_orders(email=contact.email) == store.find_orders(email=contact.email)
            assert api.find_orders(phone=contact.phone) == store.find_orders(phone=contact.phone)
            for line in view.lines:
                skus = [line.sku]
                wanted = store.find_open_orders(brand=view.brand, skus=skus)
                assert api.find_open_orders(brand=view.brand, skus=skus) == wanted
            for parcel in service.shipments[number]:
                found = api.find_order_by_tracking(parcel.tracking_number)
                assert found == store.find_order_by_tracking(parcel.tracking_number)
