"""Logging in and staying safe, over real HTTP on loopback: sessions kept server-side and
hashed, cookie flags, CSRF on every form, login rate limits shared through the database,
security headers."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from tests.web_support import PASSWORD, Web, running_app, submit_login
from tidings.store.models import LoginAttempt, User, WebSession


@pytest.fixture
def web(engine: Engine) -> Iterator[Web]:
    """The app with one user per role and tight login limits."""
    web_settings = {"login_failures_per_name": 3, "login_failures_per_ip": 5}
    with running_app(engine, web=web_settings) as running:
        yield running


class TestLogin:
    def test_login_starts_a_hashed_server_session(self, web: Web) -> None:
        """The cookie is an opaque random id; the database keeps only its SHA-256, and the
        cookie is HttpOnly and SameSite=Lax (not Secure: plain http on loopback)."""
        with web.client() as client:
            answer = submit_login(client, "ops", PASSWORD)
            assert answer.status_code == 303 and answer.headers["location"] == "/"
            cookie = next(
                c for c in answer.headers.get_list("set-cookie") if c.startswith("tidings_session=")
            )
            value = cookie.split(";")[0].split("=", 1)[1]
            flags = cookie.lower()
            assert "httponly" in flags and "samesite=lax" in flags and "secure" not in flags
            assert client.get("/api/me").json() == {
                "name": "ops",
                "role": "ops",
                "brands": [],
                "via": "session",
            }
        with web.sessions() as session:
            stored = session.scalar(select(WebSession.key_hash))
            last_login = session.scalar(select(User.last_login_at).where(User.name == "ops"))
        assert stored == hashlib.sha256(value.encode()).hexdigest() and stored != value
        assert last_login is not None

    def test_cookies_are_secure_behind_https(self, engine: Engine) -> None:
        """With an https public URL (a TLS proxy in front), both cookies are Secure."""
        secure = {"public_url": "https://tidings.example.com"}
        with running_app(engine, web=secure) as web, web.client() as client:
            form = client.get("/login")
            nonce = form.cookies["tidings_login"]
            token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
            # httpx keeps Secure cookies off plain http, as browsers do: send it by hand.
            answer = client.post(
                "/login",
                data={"name": "ops", "password": PASSWORD, "csrf_token": token},
                headers={"Cookie": f"tidings_login={nonce}"},
            )
        cookies = form.headers.get_list("set-cookie") + answer.headers.get_list("set-cookie")
        for name in ("tidings_login=", "tidings_session="):
            cookie = next(c for c in cookies if c.startswith(name))
            assert "; secure" in cookie.lower(), cookie

    def test_wrong_password_and_unknown_name_read_the_same(self, web: Web) -> None:
        """A wrong password and a name nobody has get the same 401 page and no session."""
        with web.client() as client:
            wrong = submit_login(client, "ops", "not the password")
            nobody = submit_login(client, "nobody", "not the password")
            assert client.get("/api/me").status_code == 401
        assert wrong.status_code == nobody.status_code == 401
        assert "Wrong name or password." in wrong.text and "Wrong name or password." in nobody.text
        assert "tidings_session" not in str(wrong.headers.get_list("set-cookie"))

    def test_a_disabled_user_cannot_log_in(self, web: Web) -> None:
        """Disabling a user ends their sessions at once and refuses their password."""
        ops = web.login("ops")
        admin = web.login("admin")
        assert admin.post("/api/users/ops/disable").json()["active"] is False
        assert ops.get("/api/me").status_code == 401
        with web.client() as client:
            assert submit_login(client, "ops", PASSWORD).status_code == 401

    def test_logout_revokes_the_session(self, web: Web) -> None:
        """After logout the old cookie is worthless, even replayed by hand."""
        client = web.login("admin")
        cookie = client.cookies["tidings_session"]
        assert client.post("/logout").status_code == 303
        with web.client(cookies={"tidings_session": cookie}) as replay:
            assert replay.get("/api/me").status_code == 401

    def test_idle_sessions_end(self, engine: Engine) -> None:
        """A session unused for longer than the idle limit no longer works."""
        with running_app(engine, web={"session_idle_minutes": 0.01}) as web:
            client = web.login("ops")
            time.sleep(0.8)
            assert client.get("/api/me").status_code == 401

    def test_next_stays_on_this_site(self, web: Web) -> None:
        """``next`` may only name a path here: a login never sends anyone to another site."""
        with web.client() as client:
            form = client.get("/login", params={"next": "//evil.example/x"})
            assert 'name="next" value="/"' in form.text
            form = client.get("/login", params={"next": "/users"})
            assert 'name="next" value="/users"' in form.text


class TestRateLimits:
    def test_failures_per_name_lock_that_name(self, web: Web) -> None:
        """After 3 failures for a name, even the right password waits (429 with Retry-After);
        another name from the same address still logs in."""
        with web.client() as client:
            for _ in range(3):
                assert submit_login(client, "ops", "guess").status_code == 401
            locked = submit_login(client, "ops", PASSWORD)
            assert locked.status_code == 429 and "Too many failed logins" in locked.text
            assert 800 <= int(locked.headers["retry-after"]) <= 900
            assert submit_login(client, "admin", PASSWORD).status_code == 303

    def test_failures_per_address_lock_the_address(self, web: Web) -> None:
        """Guessing across many names from one address stops at the per-address limit."""
        with web.client() as client:
            for n in range(5):
                assert submit_login(client, f"name{n}", "guess").status_code == 401
            assert submit_login(client, "admin", PASSWORD).status_code == 429

    def test_every_process_counts_the_same_failures(self, engine: Engine) -> None:
        """Two app processes on one database share the counts: failures on one lock the name
        on the other."""
        limits = {"login_failures_per_name": 3}
        with (
            running_app(engine, web=limits) as one,
            running_app(engine, users=False, web=limits) as two,
        ):
            with one.client() as client:
                for _ in range(3):
                    assert submit_login(client, "ops", "guess").status_code == 401
            with two.client() as client:
                assert submit_login(client, "ops", PASSWORD).status_code == 429
            with one.sessions() as session:
                failures = session.scalar(
                    select(func.count()).select_from(LoginAttempt).where(~LoginAttempt.succeeded)
                )
        assert failures == 3

    def test_a_success_clears_the_names_count(self, web: Web) -> None:
        """Failures before a successful login do not count towards the next lock."""
        with web.client() as client:
            for _ in range(2):
                submit_login(client, "ops", "guess")
            assert submit_login(client, "ops", PASSWORD).status_code == 303
            for _ in range(2):
                assert submit_login(client, "ops", "guess").status_code == 401
            assert submit_login(client, "ops", PASSWORD).status_code == 303


class TestCsrf:
    def test_forms_need_the_sessions_token(self, web: Web) -> None:
        """A state-changing request with a session cookie needs that session's CSRF token,
        as a header (htmx) or a form field; a missing, wrong or another session's is 403."""
        admin = web.login("admin")
        ops = web.login("ops")
        good = admin.headers.pop("X-CSRF-Token")
        body = {"engaged": "true"}
        assert admin.post("/killswitch", data=body).status_code == 403
        assert (
            admin.post("/killswitch", data=body, headers={"X-CSRF-Token": "x"}).status_code == 403
        )
        other = ops.headers["X-CSRF-Token"]
        assert (
            admin.post("/killswitch", data=body, headers={"X-CSRF-Token": other}).status_code == 403
        )
        assert admin.get("/api/killswitch").json()["everything"] is False
        assert admin.post("/killswitch", data={**body, "csrf_token": good}).status_code == 303
        assert admin.get("/api/killswitch").json()["everything"] is True

    def test_login_form_is_bound_to_the_browser(self, web: Web) -> None:
        """A login posted without the login page's cookie (from another site) is refused."""
        with web.client() as client:
            token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        with web.client() as stranger:
            answer = stranger.post(
                "/login", data={"name": "admin", "password": PASSWORD, "csrf_token": token}
            )
            assert answer.status_code == 403 and stranger.get("/api/me").status_code == 401

    def test_tokens_need_no_csrf(self, web: Web) -> None:
        """A machine with a bearer token sends no cookie, so no CSRF token either."""
        token = web.token("admin")
        with web.client(headers={"Authorization": f"Bearer {token}"}) as machine:
            answer = machine.put("/api/killswitch", json={"engaged": True, "brand": "kapas"})
        assert answer.status_code == 200 and answer.json()["engaged_brands"] == ["kapas"]


class TestHeaders:
    @pytest.mark.parametrize("path", ["/login", "/api/me", "/static/app.css", "/healthz"])
    def test_security_headers_everywhere(self, web: Web, path: str) -> None:
        """Pages, API answers and static files carry the same protective headers."""
        with web.client() as client:
            headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"

    def test_pages_have_no_inline_script(self, web: Web) -> None:
        """Every script on the app's pages is a file the app serves (the CSP forbids others)."""
        admin = web.login("admin")
        for path in ("/", "/users", "/killswitch"):
            page = admin.get(path, headers={"Accept": "text/html"}).text
            assert "<script>" not in page and "onclick" not in page.lower()
            assert '<script src="/static/htmx.min.js' in page
        assert admin.get("/static/htmx.min.js").status_code == 200
