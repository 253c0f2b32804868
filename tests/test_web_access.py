"""Who may call what: every route of ``create_app`` has a declared policy, and a real call as
each kind of caller (anonymous, ops, brand manager, admin, API tokens) gets in exactly when the
policy says so. A new route without an entry here fails this test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter, Depends
from sqlalchemy import Engine

from tests.web_support import Web, running_app
from tidings.config import Settings
from tidings.store.enums import Role
from tidings.web.app import create_app
from tidings.web.deps import PUBLIC, Access, check_declared, declared_routes, require_role

OPS, BRAND, ADMIN = Role.OPS, Role.BRAND_MANAGER, Role.ADMIN
EVERYONE = (OPS, BRAND, ADMIN)


def pages(*roles: Role) -> Access:
    """Browser pages: sessions only."""
    return require_role(*roles, tokens=False)


def api(*roles: Role) -> Access:
    """API routes: sessions or tokens."""
    return require_role(*roles)


# (method, path) -> who may call it. Adding a route means adding it here, on purpose.
EXPECTED: dict[tuple[str, str], Access] = {
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): pages(*EVERYONE),
    ("GET", "/api/me"): api(*EVERYONE),
    ("GET", "/"): pages(*EVERYONE),
    ("GET", "/dashboard/panels"): pages(*EVERYONE),
    ("GET", "/api/dashboard"): api(*EVERYONE),
    ("GET", "/api/queue"): api(*EVERYONE),
    ("GET", "/api/dead-letters"): api(*EVERYONE),
    ("POST", "/api/dead-letters/{kind}/{row_id}/replay"): api(OPS, ADMIN),
    ("POST", "/dead-letters/{kind}/{row_id}/replay"): pages(OPS, ADMIN),
    ("GET", "/queue"): pages(OPS, ADMIN),
    ("POST", "/queue/approve"): pages(OPS, ADMIN),
    ("GET", "/cases/{case_id}"): pages(OPS, ADMIN),
    ("POST", "/cases/{case_id}/decision"): pages(OPS, ADMIN),
    ("POST", "/cases/{case_id}/draft"): pages(OPS, ADMIN),
    ("POST", "/cases/{case_id}/preview"): pages(OPS, ADMIN),
    ("POST", "/cases/{case_id}/rerun"): pages(OPS, ADMIN),
    ("GET", "/api/cases"): api(OPS, ADMIN),
    ("POST", "/api/cases/approve"): api(OPS, ADMIN),
    ("GET", "/api/cases/{case_id}"): api(OPS, ADMIN),
    ("POST", "/api/cases/{case_id}/decision"): api(OPS, ADMIN),
    ("PUT", "/api/cases/{case_id}/draft"): api(OPS, ADMIN),
    ("POST", "/api/cases/{case_id}/preview"): api(OPS, ADMIN),
    ("POST", "/api/cases/{case_id}/rerun"): api(OPS, ADMIN),
    ("GET", "/users"): pages(ADMIN),
    ("POST", "/users"): pages(ADMIN),
    ("POST", "/users/{name}/active"): pages(ADMIN),
    ("GET", "/api/users"): api(ADMIN),
    ("POST", "/api/users"): api(ADMIN),
    ("POST", "/api/users/{name}/disable"): api(ADMIN),
    ("POST", "/api/users/{name}/enable"): api(ADMIN),
    ("GET", "/killswitch"): pages(ADMIN),
    ("POST", "/killswitch"): pages(ADMIN),
    ("GET", "/api/killswitch"): api(*EVERYONE),
    ("PUT", "/api/killswitch"): api(ADMIN),
    ("GET", "/templates"): pages(BRAND, ADMIN),
    ("GET", "/templates/{brand}/{event}/{channel}/{language}"): pages(BRAND, ADMIN),
    ("POST", "/templates/{brand}/{event}/{channel}/{language}"): pages(BRAND, ADMIN),
    ("POST", "/templates/{brand}/{event}/{channel}/{language}/preview"): pages(BRAND, ADMIN),
    ("GET", "/templates/{brand}/{event}/{channel}/{language}/diff"): pages(BRAND, ADMIN),
    ("POST", "/templates/{brand}/{event}/{channel}/{language}/publish"): pages(BRAND, ADMIN),
    ("POST", "/templates/{brand}/{event}/{channel}/{language}/rollback"): pages(BRAND, ADMIN),
    ("GET", "/api/templates"): api(BRAND, ADMIN),
    ("POST", "/api/templates"): api(BRAND, ADMIN),
    ("POST", "/api/templates/preview"): api(BRAND, ADMIN),
    ("GET", "/api/templates/{brand}/{event}/{channel}/{language}"): api(BRAND, ADMIN),
    ("GET", "/api/templates/{brand}/{event}/{channel}/{language}/diff"): api(BRAND, ADMIN),
    ("POST", "/api/templates/{brand}/{event}/{channel}/{language}/publish"): api(BRAND, ADMIN),
    ("POST", "/api/templates/{brand}/{event}/{channel}/{language}/rollback"): api(BRAND, ADMIN),
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): api(*EVERYONE),
    ("POST", "/webhooks/twilio/status"): PUBLIC,
    ("POST", "/webhooks/twilio/inbound"): PUBLIC,
    ("POST", "/webhooks/sendgrid/events"): PUBLIC,
    ("POST", "/webhooks/aftership"): PUBLIC,
    ("POST", "/webhooks/easypost"): PUBLIC,
    ("GET", "/unsubscribe/{token}"): PUBLIC,
    ("POST", "/unsubscribe/{token}"): PUBLIC,
    ("GET", "/openapi.json"): api(*EVERYONE),
    ("GET", "/docs"): pages(*EVERYONE),
    ("GET", "/redoc"): pages(*EVERYONE),
}
PUBLIC_MOUNTS = {"/static", "/static-offline-docs"}
PATH_VALUES = {"{kind}": "emails", "{row_id}": "987654", "{name}": "nobody", "{token}": "x"}
PATH_VALUES["{case_id}"] = "987654"
# A slot the brand manager (kapas) may edit: refusals there come from the role, not the brand.
PATH_VALUES |= {"{brand}": "kapas", "{event}": "shipped", "{channel}": "sms", "{language}": "hi"}
CALLERS = ("anonymous", "ops", "kapas-manager", "admin", "token:ops", "token:admin")
ROLE_OF = {"ops": OPS, "kapas-manager": BRAND, "admin": ADMIN}


def app_policies() -> dict[tuple[str, str], Access]:
    """Every (method, path) of a freshly built app and the policy it declares."""
    found: dict[tuple[str, str], Access] = {}
    for route in declared_routes(create_app(Settings()).routes):
        if not route.api:
            assert route.path in PUBLIC_MOUNTS, f"undeclared mount {route.path}"
            continue
        (policy,) = route.access
        for method in route.methods:
            found[(method, route.path)] = policy
    return found


def allowed(policy: Access, caller: str) -> bool:
    """Whether ``policy`` lets ``caller`` in."""
    if policy.public:
        return True
    if caller == "anonymous":
        return False
    via_token, _, name = caller.rpartition(":")
    if via_token and not policy.tokens:
        return False
    return ROLE_OF[name] in policy.roles


def refused_by_access(answer: httpx.Response) -> bool:
    """Whether the access layer said no (not the route: a webhook's 403 for a missing
    signature is the route's own answer)."""
    if answer.status_code == 401:
        return True
    if answer.status_code != 403 or "json" not in answer.headers.get("content-type", ""):
        return False
    return str(answer.json().get("detail", "")).startswith("forbidden:")


@pytest.fixture
def web(engine: Engine) -> Iterator[Web]:
    """The app with one user per role."""
    with running_app(engine) as running:
        yield running


class TestDeclaredPolicies:
    def test_every_route_has_the_expected_policy(self) -> None:
        """The app's routes and their policies are exactly the table above: a new route, a
        removed one or a changed policy fails here until the table says so."""
        declared = app_policies()
        missing = sorted(set(declared) - set(EXPECTED))
        assert not missing, f"routes without an entry in EXPECTED: {missing}"
        gone = sorted(set(EXPECTED) - set(declared))
        assert not gone, f"EXPECTED names routes the app does not have: {gone}"
        wrong = {k: v.describe() for k, v in declared.items() if v != EXPECTED[k]}
        assert not wrong, f"policies differ from EXPECTED: {wrong}"

    def test_a_route_without_a_policy_stops_the_app(self) -> None:
        """``create_app`` refuses to build around a route that says nothing about access."""
        router = APIRouter()

        @router.get("/api/forgotten")
        def forgotten() -> dict[str, str]:
            return {}

        @router.get("/api/twice", dependencies=[Depends(PUBLIC), Depends(require_role())])
        def twice() -> dict[str, str]:
            return {}

        with pytest.raises(RuntimeError, match=r"GET /api/forgotten declares 0 access"):
            check_declared(router.routes)
        with pytest.raises(RuntimeError, match=r"GET /api/twice declares 2 access"):
            check_declared(router.routes[1:])


class TestCalls:
    def test_each_caller_gets_in_exactly_where_allowed(self, web: Web) -> None:
        """Every route, called for real by every kind of caller: the access layer refuses
        exactly the callers its policy excludes (logout last: it ends the session)."""
        clients = {"anonymous": web.client()}
        for name in ("ops", "kapas-manager", "admin"):
            clients[name] = web.login(name)
            token = web.token(name)
            clients[f"token:{name}"] = web.client(headers={"Authorization": f"Bearer {token}"})
        mistakes = []
        routes = sorted(EXPECTED.items(), key=lambda item: item[0] == ("POST", "/logout"))
        for (method, path), policy in routes:
            url = path
            for placeholder, value in PATH_VALUES.items():
                url = url.replace(placeholder, value)
            for caller in CALLERS:
                answer = clients[caller].request(
                    method, url, headers={"Accept": "application/json"}
                )
                if refused_by_access(answer) == allowed(policy, caller):
                    mistakes.append(f"{method} {path} as {caller}: {answer.status_code}")
        for client in clients.values():
            client.close()
        assert not mistakes, "\n".join(mistakes)

    def test_a_wrong_or_revoked_token_is_refused(self, web: Web) -> None:
        """A made-up token, and a token whose user was disabled, get 401."""
        token = web.token("ops")
        with web.client(headers={"Authorization": f"Bearer {token}"}) as client:
            assert client.get("/api/me").json()["via"] == "token"
        with web.client(headers={"Authorization": "Bearer tid_madeup"}) as client:
            assert client.get("/api/me").status_code == 401
        admin = web.login("admin")
        assert admin.post("/api/users/ops/disable").status_code == 200
        admin.close()
        with web.client(headers={"Authorization": f"Bearer {token}"}) as client:
            assert client.get("/api/me").status_code == 401
