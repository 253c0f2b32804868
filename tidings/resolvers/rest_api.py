"""``RestOrderAPI``: the ``OrderAPI`` protocol over a retailer's REST order API (JSON over HTTPS).

Configured by ``TIDINGS_ORDERS__*`` (``OrderAPISettings``): the root URL, the header and scheme
that carry the token, timeouts, retries, and per-method path overrides (``paths``, keyed by the
method names below, with the same ``{placeholders}``). The contract the API must honour:

======================  ======  =======================================  ====================
method                  verb    default path (query)                     200 answer
======================  ======  =======================================  ====================
get_order               GET     /orders/{number}                         Order
find_orders             GET     /orders (email, phone, limit)            [Order], newest first
list_shipments          GET     /orders/{number}/shipments               [Shipment]
find_order_by_tracking  GET     /shipments/{tracking_number}/order       Order
get_purchase_order      GET     /purchase-orders/{number}                PurchaseOrder
find_open_orders        GET     /orders (brand, sku..., status=open,     [Order], oldest first
                                limit)
update_shipping_address PATCH   /orders/{number}/shipping-address        Order, as changed
reschedule_delivery     POST    /orders/{number}/delivery-reschedule     Order, as changed
cancel_order            POST    /orders/{number}/cancel                  Order, as changed
set_eta                 POST    /orders/{number}/eta                     Order, as changed
======================  ======  =======================================  ====================

``find_open_orders`` repeats ``sku`` once per SKU. Write bodies (every one also has ``"actor"``,
who asked, e.g. ``"agent"``)::

    update_shipping_address  {"shipping_address": Address}
    reschedule_delivery      {"delivery_date": "2026-12-24", "delivery_slot": "after 6 pm" | null}
    cancel_order             {"reason": "..."}
    set_eta                  {"eta": "2026-12-24", "reason": "...", "tracking_number": "..." | null}

Shapes are the pydantic views' JSON (``order_api.py``): Order is ``OrderView`` (number, brand,
status, currency, total as a decimal string, placed_at, customer, shipping_address, lines,
promised_date, delivery_date, delivery_slot), Shipment is ``ShipmentView``, PurchaseOrder is
``PurchaseOrderView``, Address is ``tidings.domain.Address``; dates ISO 8601.

What answers mean: 404 on a read is "no such order" (None; ``list_shipments`` raises
``OrderNotFoundError`` like the built-in store) and on a write ``OrderNotFoundError``; 409 or 422
on a write is the order's state refusing the change (``OrderStateError`` with the server's
message); 401/403 and other 4xx and 5xx are ``ResolverError``s. Timeouts, refused connections,
429 (Retry-After honoured), 502, 503 and 504 are retried with backoff, then
``OrderAPIUnavailableError`` (transient: the pipeline retries the step later). Every write sends
``Idempotency-Key: <key>``: the server must apply a key once and answer a repeat with the first
result, which is what makes our retries (and the pipeline's) safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from string import Formatter
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter, ValidationError

from tidings.config.settings import OrderAPISettings
from tidings.domain import Address
from tidings.errors import ConfigError, OrderNotFoundError, OrderStateError, ResolverError
from tidings.resolvers.order_api import OrderView, PurchaseOrderView, ShipmentView
from tidings.resolvers.rest_http import Call, RestClient, refusal, server_message

T = TypeVar("T")

# (verb, default path) per protocol method; a path's {placeholders} are what it requires.
ENDPOINTS: dict[str, tuple[str, str]] = {
    "get_order": ("GET", "/orders/{number}"),
    "find_orders": ("GET", "/orders"),
    "list_shipments": ("GET", "/orders/{number}/shipments"),
    "find_order_by_tracking": ("GET", "/shipments/{tracking_number}/order"),
    "get_purchase_order": ("GET", "/purchase-orders/{number}"),
    "find_open_orders": ("GET", "/orders"),
    "update_shipping_address": ("PATCH", "/orders/{number}/shipping-address"),
    "reschedule_delivery": ("POST", "/orders/{number}/delivery-reschedule"),
    "cancel_order": ("POST", "/orders/{number}/cancel"),
    "set_eta": ("POST", "/orders/{number}/eta"),
}

_ORDER = TypeAdapter(OrderView)
_ORDERS = TypeAdapter(list[OrderView])
_SHIPMENTS = TypeAdapter(list[ShipmentView])
_PURCHASE_ORDER = TypeAdapter(PurchaseOrderView)


def resolve_paths(overrides: Mapping[str, str]) -> dict[str, str]:
    """The path of every method: the defaults with ``overrides`` checked and applied."""
    unknown = sorted(set(overrides) - set(ENDPOINTS))
    if unknown:
        raise ConfigError(
            f"TIDINGS_ORDERS__PATHS has unknown method(s) {', '.join(unknown)}; "
            f"use any of: {', '.join(ENDPOINTS)}"
        )
    paths = {name: path for name, (_, path) in ENDPOINTS.items()}
    for name, path in overrides.items():
        wanted = _fields(ENDPOINTS[name][1]) or set()
        given = _fields(path) if path.startswith("/") else None
        if given != wanted or "?" in path:
            shown = ", ".join("{" + f + "}" for f in sorted(wanted)) or "no placeholders"
            raise ConfigError(
                f"TIDINGS_ORDERS__PATHS[{name}] must be a path starting with / with {shown} and "
                f"no query, e.g. {paths[name]!r}"
            )
        paths[name] = path
    return paths


def _fields(template: str) -> set[str] | None:
    try:
        return {field for _, field, _, _ in Formatter().parse(template) if field is not None}
    except ValueError:  # an unbalanced brace
        return None


class RestOrderAPI:
    """``OrderAPI`` over a retailer's REST API; see the module docstring for the contract."""

    def __init__(
        self,
        settings: OrderAPISettings,
        *,
        transport: httpx.BaseTransport | None = None,
        backoff_seconds: float = 0.5,
    ) -> None:
        self._paths = resolve_paths(settings.paths)
        self._client = RestClient(settings, transport=transport, backoff_seconds=backoff_seconds)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> RestOrderAPI:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reads -----------------------------------------------------------------------------

    def get_order(self, number: str) -> OrderView | None:
        """The order with this number, or None."""
        return self._read(self._call("get_order", number=number), _ORDER)

    def find_orders(
        self, *, email: str | None = None, phone: str | None = None, limit: int = 10
    ) -> list[OrderView]:
        """A customer's orders, newest first, by email address or E.164 phone number."""
        if not email and not phone:
            return []
        params: dict[str, Any] = {"limit": limit}
        if email:
            params["email"] = email.strip()
        if phone:
            params["phone"] = phone.strip()
        return self._read(self._call("find_orders", params=params), _ORDERS) or []

    def list_shipments(self, number: str) -> list[ShipmentView]:
        """The order's parcels with tracking events, or ``OrderNotFoundError``."""
        call = self._call("list_shipments", number=number)
        shipments = self._read(call, _SHIPMENTS)
        if shipments is None:
            raise OrderNotFoundError(f"the order API has no order {number!r} ({call.label})")
        return shipments

    def find_order_by_tracking(self, tracking_number: str) -> OrderView | None:
        """The order a parcel belongs to, by its tracking number."""
        wanted = "".join(tracking_number.split())
        return self._read(self._call("find_order_by_tracking", tracking_number=wanted), _ORDER)

    def get_purchase_order(self, number: str) -> PurchaseOrderView | None:
        """A purchase order to a supplier, by its number."""
        return self._read(self._call("get_purchase_order", number=number), _PURCHASE_ORDER)

    def find_open_orders(self, *, brand: str, skus: list[str], limit: int = 500) -> list[OrderView]:
        """A brand's open orders that contain any of these SKUs, oldest first."""
        if not skus:
            return []
        params = {"brand": brand, "sku": list(skus), "status": "open", "limit": limit}
        return self._read(self._call("find_open_orders", params=params), _ORDERS) or []

    # -- writes ----------------------------------------------------------------------------

    def update_shipping_address(
        self, number: str, address: Address, *, idempotency_key: str, actor: str
    ) -> OrderView:
        """Change where an unshipped order goes."""
        body = {"shipping_address": address.model_dump(mode="json"), "actor": actor}
        return self._write("update_shipping_address", number, body, idempotency_key)

    def reschedule_delivery(
        self, number: str, *, on: date, slot: str | None, idempotency_key: str, actor: str
    ) -> OrderView:
        """Ask for delivery on another day (and slot)."""
        body = {"delivery_date": on.isoformat(), "delivery_slot": slot, "actor": actor}
        return self._write("reschedule_delivery", number, body, idempotency_key)

    def cancel_order(
        self, number: str, *, reason: str, idempotency_key: str, actor: str
    ) -> OrderView:
        """Cancel an order that has not shipped."""
        body = {"reason": reason, "actor": actor}
        return self._write("cancel_order", number, body, idempotency_key)

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
        """Record a new expected delivery date for an order's parcel (or the whole order)."""
        body = {
            "eta": eta.isoformat(),
            "reason": reason,
            "tracking_number": tracking_number,
            "actor": actor,
        }
        return self._write("set_eta", number, body, idempotency_key)

    # -- internals -------------------------------------------------------------------------

    def _call(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        **values: str,
    ) -> Call:
        # Values are percent-encoded whole: an order number with a slash stays one segment.
        encoded = {key: quote(value.strip(), safe="") for key, value in values.items()}
        path = self._paths[name].format_map(encoded)
        return Call(name, ENDPOINTS[name][0], path, params, body, idempotency_key)

    def _read(self, call: Call, shape: TypeAdapter[T]) -> T | None:
        """The answer as ``shape``, or None when the server says there is no such thing."""
        response = self._client.send(call)
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise refusal(call, response)
        return _parse(call, response, shape)

    def _write(self, name: str, number: str, body: dict[str, Any], key: str) -> OrderView:
        """Send a change with its idempotency key; the order as the server says it is after."""
        call = self._call(name, number=number, body=body, idempotency_key=key)
        response = self._client.send(call)
        if response.status_code == 404:
            raise OrderNotFoundError(f"the order API has no order {number!r} ({call.label})")
        if response.status_code in (409, 422):
            raise OrderStateError(
                f"the order API refused {name} on order {number}: {server_message(response)}"
            )
        if not response.is_success:
            raise refusal(call, response)
        return _parse(call, response, _ORDER)


def _parse(call: Call, response: httpx.Response, shape: TypeAdapter[T]) -> T:
    """Validate an answer; the error names the endpoint and the fields, never their values."""
    try:
        return shape.validate_json(response.content)
    except ValidationError as exc:
        problems = exc.errors(include_input=False, include_url=False)
        if any(p["type"] == "json_invalid" for p in problems):
            what = "a body that is not JSON"
        else:
            where = "; ".join(
                f"{'.'.join(str(part) for part in p['loc']) or 'body'}: {p['type']}"
                for p in problems[:5]
            )
            what = f"JSON that does not fit the contract ({where})"
        raise ResolverError(
            f"the order API answered {call.label} with {what}: see 'Order APIs' in the README "
            "for the shape it must return"
        ) from None
