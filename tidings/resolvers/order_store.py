"""The built-in order store: ``OrderAPI`` on Tidings' own database (the embedded default).

Every change runs in one transaction with an audit entry carrying the idempotency key; the key is
unique, so a repeated call (or two racing ones) applies the change once. The order's version
column catches two different changes racing on one order: the loser retries and re-checks its
guards against the winner's result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random

from tidings.domain import Address, from_minor
from tidings.errors import OrderNotFoundError, OrderStateError, ResolverError
from tidings.resolvers.order_api import (
    OPEN,
    RESCHEDULABLE,
    CustomerView,
    OrderLineView,
    OrderView,
    PurchaseOrderView,
    ShipmentView,
    TrackingEventView,
)
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory
from tidings.store.enums import LineStatus, OrderStatus, ShipmentStatus
from tidings.store.models import (
    AuditEntry,
    BrandRow,
    Customer,
    Order,
    OrderLine,
    PurchaseOrder,
    Shipment,
    WismoEpisode,
)

# Which order states allow which change.
ADDRESS_CHANGE_ALLOWED = frozenset(
    {OrderStatus.PENDING_PAYMENT, OrderStatus.CONFIRMED, OrderStatus.PACKED}
)
CANCEL_ALLOWED = ADDRESS_CHANGE_ALLOWED
RESCHEDULE_ALLOWED = RESCHEDULABLE


def order_view(order: Order) -> OrderView:
    """Map an ``Order`` row (with lines, customer and brand loaded) to its API view."""
    return order_view_of(order, order.customer, order.brand.slug, order.lines)


def order_view_of(order: Any, customer: Any, brand: str, lines: Iterable[Any]) -> OrderView:
    """The API view from an order's, its customer's and its lines' columns: ORM objects, or
    plain rows with the same names (the WISMO scan reads thousands at once without the ORM)."""
    return OrderView(
        number=order.number,
        brand=brand,
        status=order.status,
        currency=order.currency,
        total=from_minor(order.total_minor, order.currency),
        placed_at=order.placed_at,
        customer=CustomerView(
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            language=customer.language,
            time_zone=customer.time_zone,
            channel_order=list(customer.channel_order),
        ),
        shipping_address=Address.model_validate(order.shipping_address),
        lines=[
            OrderLineView(
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price=from_minor(line.unit_price_minor, order.currency),
                status=line.status,
            )
            for line in lines
        ],
        promised_date=order.promised_date,
        delivery_date=order.delivery_date,
        delivery_slot=order.delivery_slot,
    )


def shipment_view(shipment: Shipment, problem: str | None = None) -> ShipmentView:
    """Map a ``Shipment`` row (with events loaded) to its API view; ``problem`` is its open
    delay episode's."""
    return shipment_view_of(shipment, shipment.events, problem)


def shipment_view_of(shipment: Any, events: Iterable[Any], problem: str | None) -> ShipmentView:
    """The API view from a shipment's columns (an ORM object or a plain row) and its scans."""
    return ShipmentView(
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
        status=shipment.status,
        skus=list(shipment.skus),
        shipped_at=shipment.shipped_at,
        promised_date=shipment.promised_date,
        eta=shipment.eta,
        delivered_at=shipment.delivered_at,
        events=[
            TrackingEventView(
                occurred_at=e.occurred_at,
                code=e.code,
                status=e.status,
                description=e.description,
                location=e.location,
            )
            for e in events
        ],
        predicted_eta=shipment.predicted_eta,
        last_scan_at=shipment.last_scan_at,
        delay_reported_at=shipment.delay_reported_at,
        problem=problem,
    )


def open_problems(session: Session, shipment_ids: list[int]) -> dict[int, str]:
    """The problem of each parcel's open delay episode (proactive WISMO): an inbound "where is
    my order?" then tells what the proactive notice told. The oldest open one wins."""
    if not shipment_ids:
        return {}
    rows = session.execute(
        select(WismoEpisode.shipment_id, WismoEpisode.problem)
        .where(WismoEpisode.shipment_id.in_(shipment_ids), WismoEpisode.closed_at.is_(None))
        .order_by(WismoEpisode.id.desc())
    )
    return {shipment_id: problem.value for shipment_id, problem in rows if shipment_id}


# One query for the order with its customer and brand, one for its lines.
ORDER_LOADS = (
    selectinload(Order.lines),
    joinedload(Order.customer),
    joinedload(Order.brand),
)


class BuiltinOrderStore:
    """``OrderAPI`` backed by the ``orders`` tables of the Tidings database."""

    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    def get_order(self, number: str) -> OrderView | None:
        """The order with this number, or None."""
        with self._sessions() as session:
            order = self._load(session, number)
            return order_view(order) if order else None

    def find_orders(
        self, *, email: str | None = None, phone: str | None = None, limit: int = 10
    ) -> list[OrderView]:
        """A customer's orders across brands, newest first."""
        if not email and not phone:
            return []
        contact = Customer.email == email.strip().lower() if email else Customer.phone == phone
        query = (
            select(Order)
            .join(Order.customer)
            .where(contact)
            .options(*ORDER_LOADS)
            .order_by(Order.placed_at.desc())
            .limit(limit)
        )
        with self._sessions() as session:
            return [order_view(o) for o in session.scalars(query)]

    def list_shipments(self, number: str) -> list[ShipmentView]:
        """The order's parcels with tracking events, or ``OrderNotFoundError``."""
        with self._sessions() as session:
            order = self._require(session, number)
            shipments = session.scalars(
                select(Shipment)
                .where(Shipment.order_id == order.id)
                .options(selectinload(Shipment.events))
                .order_by(Shipment.id)
            ).all()
            problems = open_problems(session, [s.id for s in shipments])
            return [shipment_view(s, problems.get(s.id)) for s in shipments]

    def find_order_by_tracking(self, tracking_number: str) -> OrderView | None:
        """The order whose parcel has this tracking number (spaces and case ignored)."""
        wanted = "".join(tracking_number.split()).upper()
        with self._sessions() as session:
            order_id = session.scalar(
                select(Shipment.order_id).where(Shipment.tracking_number == wanted).limit(1)
            )
            if order_id is None:
                return None
            order = session.scalars(
                select(Order).where(Order.id == order_id).options(*ORDER_LOADS)
            ).one()
            return order_view(order)

    def get_purchase_order(self, number: str) -> PurchaseOrderView | None:
        """A purchase order by number (case ignored)."""
        with self._sessions() as session:
            row = session.scalars(
                select(PurchaseOrder)
                .where(func.upper(PurchaseOrder.number) == number.strip().upper())
                .options(selectinload(PurchaseOrder.brand))
            ).one_or_none()
            if row is None:
                return None
            return PurchaseOrderView(
                number=row.number,
                brand=row.brand.slug,
                supplier=row.supplier,
                skus=list(row.skus),
                expected_date=row.expected_date,
            )

    def find_open_orders(self, *, brand: str, skus: list[str], limit: int = 500) -> list[OrderView]:
        """The brand's open orders with an open or backordered line of these SKUs."""
        if not skus:
            return []
        query = (
            select(Order)
            .join(Order.brand)
            .where(
                BrandRow.slug == brand,
                Order.status.in_(list(OPEN)),
                Order.id.in_(
                    select(OrderLine.order_id).where(
                        OrderLine.sku.in_(skus),
                        OrderLine.status.in_([LineStatus.OPEN, LineStatus.BACKORDERED]),
                    )
                ),
            )
            .options(*ORDER_LOADS)
            .order_by(Order.placed_at, Order.id)
            .limit(limit)
        )
        with self._sessions() as session:
            return [order_view(o) for o in session.scalars(query)]

    def update_shipping_address(
        self, number: str, address: Address, *, idempotency_key: str, actor: str
    ) -> OrderView:
        """Change the address of an order that has not left the warehouse."""

        def apply(order: Order) -> None:
            self._check_state(order, ADDRESS_CHANGE_ALLOWED, "change the address of")
            order.shipping_address = address.model_dump(exclude_none=True)

        return self._change(number, "update_shipping_address", idempotency_key, actor, apply)

    def reschedule_delivery(
        self, number: str, *, on: date, slot: str | None, idempotency_key: str, actor: str
    ) -> OrderView:
        """Record the delivery day (and slot) the customer asked for."""

        def apply(order: Order) -> None:
            self._check_state(order, RESCHEDULE_ALLOWED, "reschedule")
            today = utcnow().astimezone(ZoneInfo(order.customer.time_zone)).date()
            if on < today:
                raise OrderStateError(
                    f"cannot reschedule {number} to {on}: it is already {today} for the customer"
                )
            order.delivery_date, order.delivery_slot = on, slot

        return self._change(number, "reschedule_delivery", idempotency_key, actor, apply)

    def cancel_order(
        self, number: str, *, reason: str, idempotency_key: str, actor: str
    ) -> OrderView:
        """Cancel an order and its open lines."""

        def apply(order: Order) -> None:
            self._check_state(order, CANCEL_ALLOWED, "cancel")
            order.status, order.cancelled_at = OrderStatus.CANCELLED, utcnow()
            for line in order.lines:
                line.status = LineStatus.CANCELLED

        return self._change(
            number, "cancel_order", idempotency_key, actor, apply, details={"reason": reason}
        )

    def set_eta(
        self,
        number: str,
        *,
        eta: date,
        reason: str,
        tracking_number: str | None,
        idempotency_key: str,
        actor: str,
    ) -> OrderView:
        """Set the ETA of the parcel with this tracking number, or of every undelivered parcel
        (an order with none yet gets a new promised date)."""

        def apply(order: Order) -> None:
            if order.status in (OrderStatus.CANCELLED, OrderStatus.DELIVERED, OrderStatus.RETURNED):
                raise OrderStateError(f"order {order.number} is {order.status.value}: no ETA")
            wanted = "".join((tracking_number or "").split()).upper()
            parcels = [
                s
                for s in order.shipments
                if s.status not in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)
                and (not wanted or s.tracking_number == wanted)
            ]
            for parcel in parcels:
                parcel.eta = eta
            if not parcels:
                order.promised_date = eta

        return self._change(
            number, "set_eta", idempotency_key, actor, apply, details={"reason": reason}
        )

    # -- internals -------------------------------------------------------------------------

    @retry(
        # Another call changed the order (version check) or used the key first: look again.
        retry=retry_if_exception_type((StaleDataError, IntegrityError)),
        stop=stop_after_attempt(4),
        wait=wait_random(0.01, 0.05),
        reraise=True,
    )
    def _change(
        self,
        number: str,
        action: str,
        idempotency_key: str,
        actor: str,
        apply: Callable[[Order], None],
        details: dict[str, Any] | None = None,
    ) -> OrderView:
        """Apply ``apply`` once per idempotency key, with an audit entry, in one transaction."""
        with self._sessions() as session, session.begin():
            # Lock the order first: a concurrent change with the same key then commits before
            # we look for its key, so we find it instead of tripping over its result.
            order = self._require(session, number, lock=True)
            if self._seen(session, idempotency_key, action=action, number=number):
                return order_view(order)
            before = order_view(order).model_dump(mode="json")
            apply(order)
            session.flush()
            after = order_view(order)
            session.add(
                AuditEntry(
                    actor=actor,
                    action=action,
                    entity="order",
                    entity_id=order.number,
                    idempotency_key=idempotency_key,
                    before=before,
                    after=after.model_dump(mode="json"),
                    details=details or {},
                )
            )
            return after

    @staticmethod
    def _seen(session: Session, idempotency_key: str, *, action: str, number: str) -> bool:
        """True when this exact change was made already; a key reused for another change is a
        caller bug and raises instead of passing for a success."""
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.idempotency_key == idempotency_key)
        ).one_or_none()
        if entry is None:
            return False
        if (entry.action, entry.entity_id) != (action, number.strip().upper()):
            raise ResolverError(
                f"idempotency key {idempotency_key!r} was used for {entry.action} on "
                f"{entry.entity_id}, not {action} on {number}: give each change its own key"
            )
        return True

    @staticmethod
    def _load(session: Session, number: str, *, lock: bool = False) -> Order | None:
        query = select(Order).where(Order.number == number.strip().upper()).options(*ORDER_LOADS)
        if lock:  # FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers
            query = query.with_for_update(of=Order)
        return session.scalars(query).one_or_none()

    def _require(self, session: Session, number: str, *, lock: bool = False) -> Order:
        order = self._load(session, number, lock=lock)
        if order is None:
            raise OrderNotFoundError(f"no order {number!r} in the built-in order store")
        return order

    @staticmethod
    def _check_state(order: Order, allowed: frozenset[OrderStatus], verb: str) -> None:
        if order.status not in allowed:
            names = ", ".join(sorted(s.value for s in allowed))
            raise OrderStateError(
                f"cannot {verb} order {order.number} in state {order.status.value} "
                f"(allowed: {names})"
            )
