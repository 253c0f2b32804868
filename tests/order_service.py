"""A retailer's REST order API for tests: real HTTP on loopback, orders in memory, misbehaving on
demand.

It speaks the contract in ``tidings/resolvers/rest_api.py`` and enforces the built-in store's
rules (address change and cancel only before shipping, reschedule in reschedulable states and not
into the customer's past, no ETA on a finished order). Writes need an ``Idempotency-Key``: a
repeated key answers with the first result and changes nothing; a key reused for another change
is refused (422). Every request is recorded (``requests``) and every change applied is counted
(``applied``), so a test can prove a retried write landed once.

Each request takes the next scripted ``Behaviour`` (or none; ``then_writes`` scripts writes only):
- ``status(code, headers)``: answer ``code`` (503, 429 with Retry-After...) and do nothing;
- ``after(code)``: do the work, then answer ``code`` (a gateway that lost the answer);
- ``slow(seconds)``: do the work, then answer after ``seconds`` (past the client's timeout);
- ``raw(body)``: do nothing and answer 200 with ``body`` (malformed or off-contract JSON).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.http import serve_app
from tidings.domain import Address
from tidings.resolvers.order_api import (
    OPEN,
    CustomerView,
    OrderLineView,
    OrderView,
    PurchaseOrderView,
    ShipmentView,
    TrackingEventView,
)
from tidings.resolvers.order_store import (
    ADDRESS_CHANGE_ALLOWED,
    CANCEL_ALLOWED,
    RESCHEDULE_ALLOWED,
)
from tidings.resolvers.rest_api import ENDPOINTS, resolve_paths
from tidings.store.enums import LineStatus, OrderStatus, ShipmentStatus

TOKEN = "test-order-token"
FINISHED = (OrderStatus.CANCELLED, OrderStatus.DELIVERED, OrderStatus.RETURNED)


@dataclass
class Behaviour:
    """What the service does with one request."""

    kind: str  # status | after | slow | raw
    status: int = 200
    seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def status(code: int, headers: dict[str, str] | None = None) -> Behaviour:
    """Answer ``code`` (with ``headers``, e.g. Retry-After) and do nothing."""
    return Behaviour("status", status=code, headers=headers or {})


def after(code: int) -> Behaviour:
    """Do the work, then answer ``code``."""
    return Behaviour("after", status=code)


def slow(seconds: float) -> Behaviour:
    """Do the work, then answer too late."""
    return Behaviour("slow", seconds=seconds)


def raw(body: bytes) -> Behaviour:
    """Answer 200 with this body and do nothing."""
    return Behaviour("raw", body=body)


@dataclass(frozen=True)
class Seen:
    """One request as it arrived."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    client: str


@dataclass(frozen=True)
class Applied:
    """One change the service made."""

    action: str
    number: str
    key: str


class Refused(Exception):  # noqa: N818 - the order's state refused; becomes a 409
    pass


@dataclass
class OrderService:
    """The service's data, script and record."""

    orders: dict[str, OrderView] = field(default_factory=dict)
    shipments: dict[str, list[ShipmentView]] = field(default_factory=dict)
    purchase_orders: dict[str, PurchaseOrderView] = field(default_factory=dict)
    auth_header: str = "Authorization"
    auth_value: str = f"Bearer {TOKEN}"
    script: deque[Behaviour] = field(default_factory=deque)
    write_script: deque[Behaviour] = field(default_factory=deque)
    requests: list[Seen] = field(default_factory=list)
    applied: list[Applied] = field(default_factory=list)
    results: dict[str, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def then(self, *behaviours: Behaviour) -> OrderService:
        """Queue behaviours for the next requests."""
        self.script.extend(behaviours)
        return self

    def then_writes(self, *behaviours: Behaviour) -> OrderService:
        """Queue behaviours for the next writes only (reads pass by them)."""
        self.write_script.extend(behaviours)
        return self

    def applications(self, action: str | None = None) -> int:
        """How many changes (of ``action``) the service applied."""
        return sum(1 for a in self.applied if action in (None, a.action))

    def writes(self) -> list[Seen]:
        """The write requests received."""
        return [r for r in self.requests if r.method in ("PATCH", "POST")]

    # -- reads -----------------------------------------------------------------------------

    def get_order(self, number: str) -> OrderView | None:
        return self.orders.get(number.strip().upper())

    def find_orders(self, email: str | None, phone: str | None, limit: int) -> list[OrderView]:
        if email:
            found = [o for o in self.orders.values() if (o.customer.email or "") == email.lower()]
        else:
            found = [o for o in self.orders.values() if phone and o.customer.phone == phone]
        return sorted(found, key=lambda o: o.placed_at, reverse=True)[:limit]

    def find_open_orders(self, brand: str, skus: list[str], limit: int) -> list[OrderView]:
        waiting = (LineStatus.OPEN, LineStatus.BACKORDERED)
        found = [
            o
            for o in self.orders.values()
            if o.brand == brand
            and o.status in OPEN
            and any(line.sku in skus and line.status in waiting for line in o.lines)
        ]
        return sorted(found, key=lambda o: o.placed_at)[:limit]

    def by_tracking(self, tracking_number: str) -> OrderView | None:
        wanted = "".join(tracking_number.split()).upper()
        for number, parcels in self.shipments.items():
            if any(p.tracking_number == wanted for p in parcels):
                return self.orders[number]
        return None

    # -- writes ----------------------------------------------------------------------------

    def write(self, action: str, number: str, key: str | None, body: dict[str, Any]) -> Response:
        """Apply a change once per idempotency key, under the built-in store's rules."""
        if not key:
            return _json(400, {"message": "writes need an Idempotency-Key header"})
        with self.lock:
            order = self.get_order(number)
            if order is None:
                return _json(404, {"message": f"no order {number}"})
            if key in self.results:
                first_action, first_number, first = self.results[key]
                if (first_action, first_number) != (action, order.number):
                    return _json(
                        422, {"message": f"Idempotency-Key {key} was used for another change"}
                    )
                return _json(200, first)
            try:
                changed = CHANGES[action](self, order, body)
            except Refused as exc:
                return _json(409, {"message": str(exc)})
            except (ValidationError, KeyError, ValueError, TypeError):
                return _json(400, {"message": f"the body of {action} does not fit the contract"})
            self.orders[order.number] = changed
            answer = changed.model_dump(mode="json")
            self.results[key] = (action, order.number, answer)
            self.applied.append(Applied(action, order.number, key))
            return _json(200, answer)

    def _check(self, order: OrderView, allowed: frozenset[OrderStatus], verb: str) -> None:
        if order.status not in allowed:
            raise Refused(f"cannot {verb} order {order.number} in state {order.status.value}")

    def change_address(self, order: OrderView, body: dict[str, Any]) -> OrderView:
        self._check(order, ADDRESS_CHANGE_ALLOWED, "change the address of")
        address = Address.model_validate(body["shipping_address"])
        return order.model_copy(update={"shipping_address": address})

    def reschedule(self, order: OrderView, body: dict[str, Any]) -> OrderView:
        self._check(order, RESCHEDULE_ALLOWED, "reschedule")
        on = date.fromisoformat(body["delivery_date"])
        today = datetime.now(ZoneInfo(order.customer.time_zone)).date()
        if on < today:
            raise Refused(f"cannot reschedule {order.number} to {on}: it is already {today}")
        return order.model_copy(
            update={"delivery_date": on, "delivery_slot": body["delivery_slot"]}
        )

    def cancel(self, order: OrderView, body: dict[str, Any]) -> OrderView:
        self._check(order, CANCEL_ALLOWED, "cancel")
        if not str(body["reason"]).strip():
            raise ValueError("a reason is required")
        lines = [line.model_copy(update={"status": LineStatus.CANCELLED}) for line in order.lines]
        return order.model_copy(update={"status": OrderStatus.CANCELLED, "lines": lines})

    def set_eta(self, order: OrderView, body: dict[str, Any]) -> OrderView:
        if order.status in FINISHED:
            raise Refused(f"order {order.number} is {order.status.value}: no ETA")
        eta = date.fromisoformat(body["eta"])
        wanted = "".join((body.get("tracking_number") or "").split()).upper()
        parcels = self.shipments.get(order.number, [])
        moved = False
        for i, parcel in enumerate(parcels):
            done = parcel.status in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)
            if not done and (not wanted or parcel.tracking_number == wanted):
                parcels[i], moved = parcel.model_copy(update={"eta": eta}), True
        return order if moved else order.model_copy(update={"promised_date": eta})


CHANGES: dict[str, Callable[[OrderService, OrderView, dict[str, Any]], OrderView]] = {
    "update_shipping_address": OrderService.change_address,
    "reschedule_delivery": OrderService.reschedule,
    "cancel_order": OrderService.cancel,
    "set_eta": OrderService.set_eta,
}


def _json(code: int, body: Any) -> Response:
    return JSONResponse(body, status_code=code)


def _dump(found: Any) -> Response:
    if found is None:
        return _json(404, {"message": "not found"})
    if isinstance(found, list):
        return _json(200, [item.model_dump(mode="json") for item in found])
    return _json(200, found.model_dump(mode="json"))


def _handler(service: OrderService, names: list[str]) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint for one (verb, path); find_orders and find_open_orders may share one."""

    async def handle(request: Request) -> Response:
        q, p = request.query_params, request.path_params
        name = names[0]
        if len(names) > 1:  # GET /orders: the open-orders search is the one with SKUs
            name = "find_open_orders" if "sku" in q else "find_orders"
        if name in CHANGES:
            body = await request.json()
            key = request.headers.get("Idempotency-Key")
            return await asyncio.to_thread(service.write, name, p["number"], key, body)
        with service.lock:
            if name == "get_order":
                return _dump(service.get_order(p["number"]))
            if name == "find_orders":
                limit = int(q.get("limit", 10))
                return _dump(service.find_orders(q.get("email"), q.get("phone"), limit))
            if name == "find_open_orders":
                if q.get("status") != "open":
                    return _json(400, {"message": "only status=open is supported"})
                skus = q.getlist("sku")
                return _dump(service.find_open_orders(q["brand"], skus, int(q.get("limit", 500))))
            if name == "list_shipments":
                order = service.get_order(p["number"])
                return _dump(service.shipments.get(order.number, []) if order else None)
            if name == "find_order_by_tracking":
                return _dump(service.by_tracking(p["tracking_number"]))
            po = service.purchase_orders.get(p["number"].strip().upper())
            return _dump(po)

    return handle


def build_app(
    service: OrderService, *, root: str = "", paths: dict[str, str] | None = None
) -> Starlette:
    """The service's ASGI app under ``root``, at ``paths`` (the client's, defaults if None)."""
    served = resolve_paths(paths or {})
    routes: dict[tuple[str, str], list[str]] = {}
    for name, path in served.items():
        routes.setdefault((ENDPOINTS[name][0], root + path), []).append(name)

    async def misbehave(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        service.requests.append(
            Seen(
                method=request.method,
                path=request.url.path,
                query=request.url.query,
                headers={k.lower(): v for k, v in request.headers.items()},
                client=request.client.host if request.client else "",
            )
        )
        if request.headers.get(service.auth_header) != service.auth_value:
            return _json(401, {"message": "missing or wrong credentials"})
        with service.lock:
            queue = service.script
            if request.method in ("PATCH", "POST") and service.write_script:
                queue = service.write_script
            behaviour = queue.popleft() if queue else None
        if behaviour is None:
            return await call_next(request)
        if behaviour.kind == "status":
            message = {"message": f"scripted {behaviour.status}"}
            return JSONResponse(message, status_code=behaviour.status, headers=behaviour.headers)
        if behaviour.kind == "raw":
            return Response(behaviour.body, media_type="application/json")
        response = await call_next(request)
        if behaviour.kind == "after":
            return _json(behaviour.status, {"message": f"gateway {behaviour.status}"})
        await asyncio.sleep(behaviour.seconds)
        return response

    return Starlette(
        routes=[
            Route(path, _handler(service, names), methods=[verb])
            for (verb, path), names in routes.items()
        ],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=misbehave)],
    )


@contextmanager
def serve_orders(
    service: OrderService, *, root: str = "", paths: dict[str, str] | None = None
) -> Iterator[OrderService]:
    """Run the service on a loopback port; ``service.url`` is its root URL."""
    with serve_app(build_app(service, root=root, paths=paths)) as url:
        service.url = url + root
        yield service


# -- a small shop -------------------------------------------------------------------------


def _order(
    number: str, status: OrderStatus, *, email: str, phone: str, days_ago: float
) -> OrderView:
    now = datetime.now(ZoneInfo("UTC"))
    line_status = LineStatus.OPEN if status in ADDRESS_CHANGE_ALLOWED else LineStatus.SHIPPED
    return OrderView(
        number=number,
        brand="kapas",
        status=status,
        currency="INR",
        total="1499.00",
        placed_at=now - timedelta(days=days_ago),
        customer=CustomerView(
            name="Asha Rao",
            email=email,
            phone=phone,
            language="en",
            time_zone="Asia/Kolkata",
            channel_order=["email"],
        ),
        shipping_address=Address(
            lines=["12 MG Road"],
            city="Bengaluru",
            state="Karnataka",
            postcode="560001",
            country="IN",
        ),
        lines=[
            OrderLineView(
                sku="KAP-KRT-014",
                name="Kurta",
                quantity=1,
                unit_price="1499.00",
                status=line_status,
            )
        ],
        promised_date=(now + timedelta(days=4)).date(),
        delivery_date=None,
        delivery_slot=None,
    )


def small_shop() -> OrderService:
    """Three orders of one customer (confirmed, shipped with a parcel, delivered) and a PO."""
    asha = {"email": "asha@example.in", "phone": "+919800000001"}
    orders = [
        _order("KAP-100001", OrderStatus.CONFIRMED, days_ago=0.1, **asha),
        _order("KAP-100002", OrderStatus.SHIPPED, days_ago=2, **asha),
        _order("KAP-100003", OrderStatus.DELIVERED, days_ago=9, **asha),
    ]
    now = datetime.now(ZoneInfo("UTC"))
    parcel = ShipmentView(
        carrier="delhivery",
        tracking_number="1490811234567",
        status=ShipmentStatus.IN_TRANSIT,
        skus=["KAP-KRT-014"],
        shipped_at=now - timedelta(days=1),
        promised_date=(now + timedelta(days=2)).date(),
        eta=(now + timedelta(days=2)).date(),
        delivered_at=None,
        events=[
            TrackingEventView(
                occurred_at=now - timedelta(hours=5),
                code="PU",
                status=ShipmentStatus.IN_TRANSIT,
                description="Picked up",
                location="Jaipur",
            )
        ],
    )
    po = PurchaseOrderView(
        number="PO-7731",
        brand="kapas",
        supplier="Jaipur Looms",
        skus=["KAP-KRT-014"],
        expected_date=None,
    )
    return OrderService(
        orders={o.number: o for o in orders},
        shipments={"KAP-100002": [parcel]},
        purchase_orders={po.number: po},
    )
