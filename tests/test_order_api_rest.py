"""``RestOrderAPI`` against the tests' own order service over real HTTP on loopback: every method,
retries on transient failures only, writes applied once, errors that name the fix."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from structlog.testing import capture_logs

from tests.agent_support import (
    REPLIES,
    Scripted,
    brand_row,
    mail,
    one,
    receive,
    verdict,
    work,
)
from tests.http import LoopbackOnly, free_port
from tests.order_service import (
    TOKEN,
    OrderService,
    after,
    raw,
    serve_orders,
    slow,
    small_shop,
    status,
)
from tidings.agent.build import build_agent, pipeline
from tidings.agent.draft import TemplateDrafter
from tidings.config import BrandsFile, Settings
from tidings.config.settings import OrderAPISettings
from tidings.domain import Address
from tidings.errors import (
    ConfigError,
    OrderAPIUnavailableError,
    OrderNotFoundError,
    OrderStateError,
    ResolverError,
)
from tidings.pipeline.worker import RunReport
from tidings.resolvers.order_api import OrderAPI
from tidings.resolvers.rest_api import RestOrderAPI
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ActionOutcome, CaseState, LineStatus, OrderStatus
from tidings.store.models import Action, Case, InboundEmail, Notification

NEW_ADDRESS = Address(
    lines=["Flat 4B, Lake View Apartments", "Indiranagar"],
    city="Bengaluru",
    state="Karnataka",
    postcode="560038",
    country="IN",
)


def rest(service: OrderService, **settings: Any) -> RestOrderAPI:
    """A client of ``service`` that cannot leave loopback, with fast backoff."""
    config: dict[str, Any] = {
        "kind": "rest",
        "base_url": service.url,
        "token": TOKEN,
        "timeout_seconds": 2.0,
        "retries": 2,
    }
    config.update(settings)
    return RestOrderAPI(OrderAPISettings(**config), transport=LoopbackOnly(), backoff_seconds=0.01)


@pytest.fixture
def shop() -> Iterator[OrderService]:
    with serve_orders(small_shop()) as service:
        yield service


@pytest.fixture
def api(shop: OrderService) -> Iterator[RestOrderAPI]:
    with rest(shop) as client:
        yield client


def _cancel(api: OrderAPI, number: str = "KAP-100001", key: str = "c1") -> Any:
    return api.cancel_order(number, reason="changed mind", idempotency_key=key, actor="agent")


class TestReads:
    def test_is_an_order_api(self, api: RestOrderAPI) -> None:
        """The REST client satisfies the protocol resolvers use."""
        assert isinstance(api, OrderAPI)

    def test_every_read_round_trips(self, api: RestOrderAPI, shop: OrderService) -> None:
        """Each read reaches its endpoint and comes back as the pydantic views."""
        order = api.get_order("KAP-100001")
        assert order is not None and order == shop.orders["KAP-100001"]
        by_mail = api.find_orders(email="asha@example.in", limit=2)
        assert [o.number for o in by_mail] == ["KAP-100001", "KAP-100002"]
        assert len(api.find_orders(phone="+919800000001")) == 3
        [parcel] = api.list_shipments("KAP-100002")
        assert parcel.tracking_number == "1490811234567" and parcel.events[0].code == "PU"
        found = api.find_order_by_tracking(" 1490811234567 ")
        assert found is not None and found.number == "KAP-100002"
        po = api.get_purchase_order("PO-7731")
        assert po is not None and po.skus == ["KAP-KRT-014"]
        waiting = api.find_open_orders(brand="kapas", skus=["KAP-KRT-014", "KAP-X"])
        assert [o.number for o in waiting] == ["KAP-100001"]
        paths = [(r.method, r.path) for r in shop.requests]
        assert paths == [
            ("GET", "/orders/KAP-100001"),
            ("GET", "/orders"),
            ("GET", "/orders"),
            ("GET", "/orders/KAP-100002/shipments"),
            ("GET", "/shipments/1490811234567/order"),
            ("GET", "/purchase-orders/PO-7731"),
            ("GET", "/orders"),
        ]
        assert shop.requests[1].query == "limit=2&email=asha%40example.in"
        assert (
            shop.requests[-1].query == "brand=kapas&sku=KAP-KRT-014&sku=KAP-X&status=open&limit=500"
        )

    def test_not_found_reads(self, api: RestOrderAPI) -> None:
        """404 on a read is "no such thing"; the shipments of no order raise like the store's."""
        assert api.get_order("KAP-404404") is None
        assert api.find_order_by_tracking("0000000000") is None
        assert api.get_purchase_order("PO-0000") is None
        assert api.find_orders(email="nobody@example.com") == []
        with pytest.raises(OrderNotFoundError):
            api.list_shipments("KAP-404404")

    def test_nothing_to_search_for_calls_nothing(
        self, api: RestOrderAPI, shop: OrderService
    ) -> None:
        """No contact or no SKUs: an empty answer without a request."""
        assert api.find_orders() == []
        assert api.find_open_orders(brand="kapas", skus=[]) == []
        assert shop.requests == []


class TestWrites:
    def test_every_write_round_trips_with_its_key(
        self, api: RestOrderAPI, shop: OrderService
    ) -> None:
        """The four writes change the order and carry their idempotency key and the token."""
        day = date.today() + timedelta(days=3)
        moved = api.update_shipping_address(
            "KAP-100001", NEW_ADDRESS, idempotency_key="a1", actor="agent"
        )
        assert moved.shipping_address == NEW_ADDRESS
        later = api.reschedule_delivery(
            "KAP-100002", on=day, slot="after 6 pm", idempotency_key="r1", actor="agent"
        )
        assert (later.delivery_date, later.delivery_slot) == (day, "after 6 pm")
        api.set_eta(
            "KAP-100002",
            eta=day,
            reason="carrier delay",
            tracking_number="1490811234567",
            idempotency_key="e1",
            actor="agent",
        )
        assert api.list_shipments("KAP-100002")[0].eta == day
        cancelled = _cancel(api)
        assert cancelled.status is OrderStatus.CANCELLED
        assert {line.status for line in cancelled.lines} == {LineStatus.CANCELLED}
        writes = shop.writes()
        assert [(w.method, w.path) for w in writes] == [
            ("PATCH", "/orders/KAP-100001/shipping-address"),
            ("POST", "/orders/KAP-100002/delivery-reschedule"),
            ("POST", "/orders/KAP-100002/eta"),
            ("POST", "/orders/KAP-100001/cancel"),
        ]
        assert [w.headers["idempotency-key"] for w in writes] == ["a1", "r1", "e1", "c1"]
        assert {w.headers["authorization"] for w in writes} == {f"Bearer {TOKEN}"}
        assert shop.applications() == 4

    def test_a_repeated_key_is_applied_once(self, api: RestOrderAPI, shop: OrderService) -> None:
        """The caller's replay with the same key gets the first result and changes nothing."""
        first = api.update_shipping_address(
            "KAP-100001", NEW_ADDRESS, idempotency_key="k1", actor="agent"
        )
        other = NEW_ADDRESS.model_copy(update={"postcode": "560001"})
        replay = api.update_shipping_address(
            "KAP-100001", other, idempotency_key="k1", actor="agent"
        )
        assert replay == first and replay.shipping_address.postcode == "560038"
        assert shop.applications() == 1

    def test_the_orders_state_refuses_with_the_servers_reason(
        self, api: RestOrderAPI, shop: OrderService
    ) -> None:
        """409 from the server is an OrderStateError with its message, not retried."""
        with pytest.raises(OrderStateError, match="in state shipped"):
            _cancel(api, "KAP-100002")
        with pytest.raises(OrderStateError, match="already"):
            api.reschedule_delivery(
                "KAP-100002",
                on=date.today() - timedelta(days=10),
                slot=None,
                idempotency_key="r2",
                actor="agent",
            )
        assert len(shop.writes()) == 2 and shop.applications() == 0

    def test_unknown_order(self, api: RestOrderAPI) -> None:
        """Changing an order the API does not know says so."""
        with pytest.raises(OrderNotFoundError, match="KAP-000000"):
            _cancel(api, "KAP-000000")


class TestRetries:
    def test_gateway_errors_then_success(self, api: RestOrderAPI, shop: OrderService) -> None:
        """503 and 502 are retried; the third try answers."""
        shop.then(status(503), status(502))
        assert api.get_order("KAP-100001") is not None
        assert len(shop.requests) == 3

    def test_a_write_whose_answer_was_lost_is_applied_once(
        self, api: RestOrderAPI, shop: OrderService
    ) -> None:
        """The server applied it, a gateway answered 504; the retry with the same key gets the
        first result."""
        shop.then(after(504))
        assert _cancel(api).status is OrderStatus.CANCELLED
        assert [w.headers["idempotency-key"] for w in shop.writes()] == ["c1", "c1"]
        assert shop.applications() == 1

    def test_a_slow_write_is_retried_and_applied_once(self, shop: OrderService) -> None:
        """A read timeout after the server applied the change: retried, applied once."""
        shop.then(slow(1.5))
        with rest(shop, timeout_seconds=0.5) as api:
            moved = api.update_shipping_address(
                "KAP-100001", NEW_ADDRESS, idempotency_key="s1", actor="agent"
            )
        assert moved.shipping_address == NEW_ADDRESS
        assert len(shop.writes()) == 2 and shop.applications() == 1

    def test_retry_after_is_honoured(self, api: RestOrderAPI, shop: OrderService) -> None:
        """429 with Retry-After: 1 waits a second (our backoff alone is 10 ms)."""
        shop.then(status(429, {"Retry-After": "1"}))
        started = time.monotonic()
        _cancel(api)
        assert time.monotonic() - started >= 1.0
        assert len(shop.writes()) == 2 and shop.applications() == 1

    def test_a_long_retry_after_is_left_to_the_pipeline(
        self, api: RestOrderAPI, shop: OrderService
    ) -> None:
        """A server asking for two minutes is not waited for inside the step."""
        shop.then(status(429, {"Retry-After": "120"}))
        started = time.monotonic()
        with pytest.raises(OrderAPIUnavailableError, match="120 s") as caught:
            api.get_order("KAP-100001")
        assert caught.value.transient and time.monotonic() - started < 5
        assert len(shop.requests) == 1

    def test_timeouts_exhaust_the_retries(self, shop: OrderService) -> None:
        """Every try too slow: retries+1 requests, then a transient error naming the fix."""
        shop.then(slow(1.0), slow(1.0), slow(1.0))
        with (
            rest(shop, timeout_seconds=0.2, retries=2) as api,
            pytest.raises(OrderAPIUnavailableError) as caught,
        ):
            api.get_order("KAP-100001")
        assert caught.value.transient
        message = str(caught.value)
        assert "3 time(s)" in message and "ReadTimeout" in message
        assert "TIDINGS_ORDERS__TIMEOUT_SECONDS" in message and "KAP-100001" not in message
        assert len(shop.requests) == 3

    def test_connection_refused_is_transient(self) -> None:
        """Nobody listening: retried, then OrderAPIUnavailableError."""
        dead = OrderService(url=f"http://127.0.0.1:{free_port()}")
        with rest(dead, retries=1) as api, pytest.raises(OrderAPIUnavailableError) as caught:
            api.get_order("KAP-100001")
        assert "ConnectError" in str(caught.value)

    @pytest.mark.parametrize("code", [500, 400, 409])
    def test_other_failures_are_not_retried(
        self, api: RestOrderAPI, shop: OrderService, code: int
    ) -> None:
        """500, 400 and a 409 are the server's verdict: one request, a permanent error."""
        shop.then(status(code))
        error = OrderStateError if code == 409 else ResolverError
        with pytest.raises(error) as caught:
            _cancel(api)
        assert not caught.value.transient
        assert len(shop.requests) == 1 and shop.applications() == 0

    def test_retries_are_logged_without_secrets_or_customer_data(
        self, api: RestOrderAPI, shop: OrderService
    ) -> None:
        """A retry logs the endpoint and the reason; never the token, the email or the URL."""
        shop.then(status(503))
        with capture_logs() as logs:
            api.find_orders(email="asha@example.in")
        [entry] = [e for e in logs if e["event"] == "order API call retried"]
        assert (entry["endpoint"], entry["reason"]) == ("find_orders", "HTTP 503")
        text = json.dumps(logs, default=str)
        assert TOKEN not in text and "asha" not in text and "127.0.0.1" not in text


class TestMalformedAnswers:
    def test_a_body_that_is_not_json(self, api: RestOrderAPI, shop: OrderService) -> None:
        """A broken body is a ResolverError naming the endpoint."""
        shop.then(raw(b'{"number": "KAP-100001", '))
        with pytest.raises(ResolverError, match=r"get_order \(GET\) with a body that is not JSON"):
            api.get_order("KAP-100001")

    def test_json_off_the_contract_names_fields_not_values(
        self, api: RestOrderAPI, shop: OrderService
    ) -> None:
        """A wrong shape names the fields that failed, never the customer's data in them."""
        order = shop.orders["KAP-100001"].model_dump(mode="json")
        order["total"] = "lots"
        del order["status"]
        shop.then(raw(json.dumps([order]).encode()))
        with pytest.raises(ResolverError) as caught:
            api.find_orders(email="asha@example.in")
        message = str(caught.value)
        assert "find_orders (GET)" in message
        assert "0.status: missing" in message and "0.total: decimal_parsing" in message
        assert "asha" not in message and "lots" not in message and "Rao" not in message
        assert caught.value.__cause__ is None and caught.value.__suppress_context__


class TestConfiguration:
    def test_a_wrong_token_names_the_setting(self, shop: OrderService) -> None:
        """401 is permanent and says which settings to check."""
        with rest(shop, token="wrong") as api, pytest.raises(ResolverError) as caught:
            api.get_order("KAP-100001")
        assert "TIDINGS_ORDERS__TOKEN" in str(caught.value) and "wrong" not in str(caught.value)
        assert not caught.value.transient and len(shop.requests) == 1

    def test_custom_auth_header_and_paths(self) -> None:
        """X-Api-Key with no scheme, a base URL with a path, and overridden endpoint paths."""
        paths = {
            "get_order": "/v2/order-lookup/{number}",
            "find_open_orders": "/v2/open-orders",
            "cancel_order": "/v2/orders/{number}/cancellations",
        }
        service = small_shop()
        service.auth_header, service.auth_value = "X-Api-Key", TOKEN
        with (
            serve_orders(service, root="/api", paths=paths),
            rest(service, auth_header="X-Api-Key", auth_scheme="", paths=paths) as api,
        ):
            assert api.get_order("KAP-100001") is not None
            assert len(api.find_open_orders(brand="kapas", skus=["KAP-KRT-014"])) == 1
            assert _cancel(api).status is OrderStatus.CANCELLED
            assert api.get_purchase_order("PO-7731") is not None  # a default path, under /api
        assert [r.path for r in service.requests] == [
            "/api/v2/order-lookup/KAP-100001",
            "/api/v2/open-orders",
            "/api/v2/orders/KAP-100001/cancellations",
            "/api/purchase-orders/PO-7731",
        ]
        assert all(r.headers["x-api-key"] == TOKEN for r in service.requests)
        assert all("authorization" not in r.headers for r in service.requests)

    @pytest.mark.parametrize(
        ("paths", "fix"),
        [
            ({"get_orders": "/orders/{number}"}, "unknown method"),
            ({"get_order": "/orders/{id}"}, r"\{number\}"),
            ({"get_order": "orders/{number}"}, "starting with /"),
            ({"find_orders": "/orders?active=1"}, "no query"),
        ],
    )
    def test_bad_paths_are_refused_at_start(self, paths: dict[str, str], fix: str) -> None:
        """A path override that cannot work is a ConfigError before any request."""
        settings = OrderAPISettings(kind="rest", base_url="http://127.0.0.1:9", paths=paths)
        with pytest.raises(ConfigError, match=fix):
            RestOrderAPI(settings, transport=LoopbackOnly())

    def test_requests_cannot_leave_loopback(self) -> None:
        """The tests' transport refuses any other host, so nothing reaches a real shop."""
        service = OrderService(url="http://orders.example.com")
        with rest(service, retries=0) as api, pytest.raises(OrderAPIUnavailableError):
            api.get_order("KAP-100001")

    def test_every_request_came_from_loopback(self, api: RestOrderAPI, shop: OrderService) -> None:
        """The service saw only loopback clients."""
        api.get_order("KAP-100001")
        _cancel(api)
        assert {r.client for r in shop.requests} == {"127.0.0.1"}


class TestAgent:
    """The agent with the REST order API, as a worker runs it."""

    def _run(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile, shop: OrderService
    ) -> tuple[int, RunReport]:
        kapas = brand_row(sessions, brands)
        raw_mail = mail(sender="Asha <asha@example.in>", subject="[move] new address", body="x")
        email_id = receive(sessions, kapas, raw_mail)
        return email_id, self._work(db_url, sessions, brands, shop)

    @staticmethod
    def _work(
        db_url: str,
        sessions: SessionFactory,
        brands: BrandsFile,
        shop: OrderService,
    ) -> RunReport:
        config = Settings(database_url=db_url)
        answer = verdict("address_change", order_id="KAP-100001", new_address=NEW_ADDRESS)
        with rest(shop, retries=1) as orders:
            agent = build_agent(
                config,
                brands,
                sessions,
                classifier=Scripted({"[move]": answer}),
                orders=orders,
                drafter=TemplateDrafter(REPLIES),
            )
            with pipeline(config, brands, sessions, agent=agent) as built:
                return work(sessions, built)

    def test_the_customer_moves_an_order_through_the_rest_api(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile, shop: OrderService
    ) -> None:
        """Matched, changed once (a 503 on the write retried in the call), resolved, notified."""
        shop.then_writes(status(503))
        email_id, report = self._run(db_url, sessions, brands, shop)
        assert report.dead == 0
        with sessions() as session:
            case = one(session, Case, email_id=email_id)
            action = one(session, Action, case_id=case.id)
            [notice] = session.scalars(select(Notification)).all()
        assert case.state is CaseState.AUTO_RESOLVED
        assert action.outcome is ActionOutcome.SUCCEEDED and action.order_id is None
        assert (notice.event, notice.recipient) == ("address_updated", "asha@example.in")
        assert shop.applications("update_shipping_address") == 1
        assert shop.orders["KAP-100001"].shipping_address.postcode == "560038"
        [key] = {w.headers["idempotency-key"] for w in shop.writes()}
        assert key == f"case-{case.id}/change_address/KAP-100001"

    def test_an_api_that_stays_down_fails_the_step_not_the_case(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile, shop: OrderService
    ) -> None:
        """Unavailable after our retries: the worker retries the step later (no escalation);
        once the API is back, the change is applied once."""
        shop.then_writes(status(503), status(503))  # both tries of the first run
        email_id, report = self._run(db_url, sessions, brands, shop)
        assert (report.retried, report.dead) == (1, 0)
        with sessions() as session:
            case = one(session, Case, email_id=email_id)
            assert case.state is not CaseState.ESCALATED
            assert one(session, Action, case_id=case.id).outcome is ActionOutcome.PENDING
        assert shop.applications() == 0
        with transaction(sessions) as session:  # the retry's time has come
            session.execute(update(InboundEmail).values(next_attempt_at=None))
        self._work(db_url, sessions, brands, shop)
        with sessions() as session:
            assert one(session, Case, email_id=email_id).state is CaseState.AUTO_RESOLVED
        assert shop.applications() == 1
