"""The web app in real headless Chromium: logging in, wrong passwords, the rate limit, role
boundaries, and an admin's kill switch reaching the dashboard through htmx polling, all under
the strict Content-Security-Policy (no violation may be logged)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine

from tests.browser import DESKTOP, PHONE, log_in, watch_csp
from tests.web_support import PASSWORD, Web, running_app

if TYPE_CHECKING:  # for types only: without Playwright the fixture skips instead
    from playwright.sync_api import Browser, Page


@pytest.fixture
def web(engine: Engine) -> Iterator[Web]:
    """The app with one user per role, a 2-second dashboard refresh and a 3-failure limit."""
    web_settings = {"dashboard_refresh_seconds": 2, "login_failures_per_name": 3}
    with running_app(engine, web=web_settings) as running:
        yield running


class TestBrowser:
    def test_login_shows_the_dashboard(self, web: Web, page: Page) -> None:
        """A user logs in and lands on the dashboard with its figures, no CSP violation."""
        violations = watch_csp(page)
        page.goto(f"{web.url}/")
        assert page.url.endswith("/login")
        log_in(page, web.url, "ops", PASSWORD)
        page.wait_for_url(f"{web.url}/")
        assert page.locator("h1").inner_text() == "Dashboard"
        assert page.get_by_test_id("me").inner_text() == "ops"
        assert page.locator("#emails li[data-state=received]").is_visible()
        assert page.get_by_test_id("kpi-auto").is_visible()
        assert page.evaluate("typeof window.htmx") == "object"  # the vendored file loaded
        assert violations == []

    def test_wrong_password_is_refused(self, web: Web, page: Page) -> None:
        """A wrong password keeps the user on the login page with a message."""
        log_in(page, web.url, "ops", "not the password")
        assert page.get_by_test_id("login-error").inner_text() == "Wrong name or password."
        assert page.url.endswith("/login")
        assert not any(c["name"] == "tidings_session" for c in page.context.cookies())

    def test_rate_limit_kicks_in(self, web: Web, page: Page) -> None:
        """After three wrong passwords, even the right one is held off for a while."""
        for _ in range(3):
            log_in(page, web.url, "admin", "guess")
        log_in(page, web.url, "admin", PASSWORD)
        assert "Too many failed logins" in page.get_by_test_id("login-error").inner_text()
        assert page.url.endswith("/login")

    def test_ops_cannot_reach_admin_pages(self, web: Web, page: Page) -> None:
        """Ops see no admin links, and typing the address gets a 403 page."""
        log_in(page, web.url, "ops", PASSWORD)
        page.wait_for_url(f"{web.url}/")
        links = page.locator("nav a").all_inner_texts()
        assert "Users" not in links and "Kill switch" not in links and "Dashboard" in links
        for path in ("/users", "/killswitch"):
            answer = page.goto(f"{web.url}{path}")
            assert answer is not None and answer.status == 403
            assert "You do not have access" in page.locator("h1").inner_text()

    def test_admin_flips_the_kill_switch_and_the_dashboard_shows_it(
        self, web: Web, browser: Browser
    ) -> None:
        """An admin engages the global switch on its page (htmx, after a confirm); a dashboard
        open in another tab shows it at its next poll, without a reload; releasing clears it."""
        context = browser.new_context(viewport=DESKTOP)
        admin = context.new_page()
        violations = watch_csp(admin)
        log_in(admin, web.url, "admin", PASSWORD)
        admin.wait_for_url(f"{web.url}/")
        dashboard = context.new_page()
        dashboard.goto(f"{web.url}/")
        assert dashboard.get_by_test_id("killswitch-state").inner_text() == "Off"
        admin.goto(f"{web.url}/killswitch")
        admin.on("dialog", lambda dialog: dialog.accept())
        admin.get_by_test_id("toggle-global").click()
        admin.get_by_test_id("global-state").filter(has_text="Engaged").wait_for()
        banner = dashboard.get_by_test_id("killswitch-banner")
        banner.wait_for(timeout=8_000)  # the dashboard polls every 2 s
        assert "stopped everywhere" in banner.inner_text()
        assert dashboard.get_by_test_id("killswitch-state").inner_text() == "Engaged"
        admin.get_by_test_id("toggle-global").click()
        admin.get_by_test_id("global-state").filter(has_text="Off").wait_for()
        banner.wait_for(state="detached", timeout=8_000)
        assert violations == []
        context.close()

    def test_the_dashboard_fits_a_phone(self, web: Web, browser: Browser) -> None:
        """At 390 px wide nothing makes the page scroll sideways."""
        context = browser.new_context(viewport=PHONE, is_mobile=True)
        phone = context.new_page()
        log_in(phone, web.url, "admin", PASSWORD)
        phone.wait_for_url(f"{web.url}/")
        for path in ("/", "/users", "/killswitch"):
            phone.goto(f"{web.url}{path}")
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width} px wide"
        context.close()
