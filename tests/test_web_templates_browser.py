"""The template editor in real headless Chromium, on the bundled copy: a brand manager edits a
Hindi template, watches the preview follow (htmx), publishes and rolls back; ops cannot open
the editor; a brand manager sees no other brand's templates, as pages or through the API. No
Content-Security-Policy violation may be logged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine

from tests.browser import PHONE, log_in, watch_csp
from tests.web_support import PASSWORD, Web, running_app
from tidings.config import BrandsFile
from tidings.store.db import transaction
from tidings.store.enums import ChannelKind
from tidings.templates import store
from tidings.templates.bundled import load_bundled
from tidings.templates.store import TemplateKey

if TYPE_CHECKING:  # for types only: without Playwright the fixture skips instead
    from playwright.sync_api import Browser, Page

EDITOR = "/templates/kapas/shipped/whatsapp/hi"
KEY = TemplateKey(brand="kapas", event="shipped", channel=ChannelKind.WHATSAPP, language="hi")


@pytest.fixture
def web(engine: Engine, brands: BrandsFile) -> Iterator[Web]:
    """The app with one user per role and the bundled copy of every brand loaded."""
    with running_app(engine) as running:
        with transaction(running.sessions) as session:
            load_bundled(session=session, brands=brands)
        yield running


def sign_in(page: Page, web: Web, name: str) -> None:
    """Log in and wait for the dashboard."""
    log_in(page, web.url, name, PASSWORD)
    page.wait_for_url(f"{web.url}/")


def published_body(web: Web) -> str:
    """The published text of the Hindi WhatsApp template, from the database."""
    with transaction(web.sessions) as session:
        found = store.published(session=session, key=KEY)
    assert found is not None
    return found.body


class TestEditor:
    def test_brand_manager_edits_publishes_and_rolls_back_hindi(self, web: Web, page: Page) -> None:
        """From the matrix to the Hindi WhatsApp editor; an edit changes the preview as it is
        typed, a typo is flagged inline, the draft is saved and published (customers get it),
        the diff shows the change, and rolling back publishes the bundled text again."""
        violations = watch_csp(page)
        sign_in(page, web, "kapas-manager")
        page.get_by_role("link", name="Templates").click()
        page.wait_for_url(f"{web.url}/templates")
        page.locator('[data-cell="shipped/whatsapp/hi"] a').click()
        page.wait_for_url(f"{web.url}{EDITOR}")
        bundled = published_body(web)
        preview = page.get_by_test_id("preview-text")
        assert preview.inner_text().startswith("पार्सल चल पड़ा है, रोहित!")

        body = page.get_by_test_id("body")
        body.fill(bundled.replace("पार्सल चल पड़ा है", "ख़ुशख़बरी! पार्सल रवाना हुआ"))
        preview.filter(has_text="ख़ुशख़बरी! पार्सल रवाना हुआ, रोहित!").wait_for()
        page.get_by_test_id("sample").select_option("en")  # Asha's order, still in Hindi
        preview.filter(has_text="रवाना हुआ, Asha!").wait_for()

        body.press("Control+End")
        body.type("\n{{ order.totl }}")
        issues = page.get_by_test_id("issues")
        issues.filter(has_text="did you mean order.total?").wait_for()
        assert "line" in issues.inner_text()
        body.fill(body.input_value().replace("\n{{ order.totl }}", ""))
        page.get_by_test_id("valid").wait_for()

        page.get_by_test_id("save").click()
        assert "Saved as draft v2" in page.get_by_test_id("flash").inner_text()
        assert published_body(web) == bundled  # a draft reaches no customer
        page.get_by_test_id("publish-2").click()
        assert "Published v2" in page.get_by_test_id("flash").inner_text()
        assert "रवाना हुआ" in published_body(web)
        page.get_by_test_id("changes-2").click()
        diff = page.get_by_test_id("diff")
        diff.wait_for()
        assert "+ख़ुशख़बरी! पार्सल रवाना हुआ" in diff.inner_text()

        page.get_by_test_id("rollback-1").click()
        assert "v3 publishes the text of v1" in page.get_by_test_id("flash").inner_text()
        assert published_body(web) == bundled
        assert page.get_by_test_id("preview-text").inner_text().startswith("पार्सल चल पड़ा है")
        rows = page.locator("[data-testid=history] tr[data-version]")
        assert rows.evaluate_all("rows => rows.map(r => r.dataset.status)") == [
            "published",
            "archived",
            "archived",
        ]
        assert violations == []

    def test_ops_cannot_open_the_editor(self, web: Web, page: Page) -> None:
        """Ops see no Templates link; the matrix and an editor answer 403."""
        sign_in(page, web, "ops")
        assert "Templates" not in page.locator("nav a").all_inner_texts()
        for path in ("/templates", EDITOR):
            answer = page.goto(f"{web.url}{path}")
            assert answer is not None and answer.status == 403
            assert "You do not have access" in page.locator("h1").inner_text()
            assert page.get_by_test_id("body").count() == 0

    def test_brand_manager_cannot_see_another_brand(self, web: Web, page: Page) -> None:
        """kapas's manager gets a kapas tab only; seri's matrix, editor and API answer 403,
        with none of seri's words on the page."""
        sign_in(page, web, "kapas-manager")
        page.goto(f"{web.url}/templates")
        assert page.locator(".tabs a").evaluate_all("tabs => tabs.map(t => t.dataset.brand)") == [
            "kapas"
        ]
        for path in ("/templates?brand=seri", "/templates/seri/shipped/whatsapp/ms"):
            answer = page.goto(f"{web.url}{path}")
            assert answer is not None and answer.status == 403
            assert "Seri" not in page.locator("main").inner_text()
        for path in ("/api/templates?brand=seri", "/api/templates/seri/shipped/whatsapp/ms"):
            answer = page.request.get(f"{web.url}{path}")  # the browser's own session
            assert answer.status == 403
            assert "kapas" in answer.json()["detail"]

    def test_matrix_and_editor_fit_a_phone(self, web: Web, browser: Browser) -> None:
        """At 390 px the pages never scroll sideways (the matrix scrolls inside its card)."""
        context = browser.new_context(viewport=PHONE, is_mobile=True)
        phone = context.new_page()
        violations = watch_csp(phone)
        sign_in(phone, web, "admin")
        for path in (
            "/templates",
            "/templates?brand=griha",
            EDITOR,
            "/templates/seri/shipped/email/ms",
        ):
            phone.goto(f"{web.url}{path}")
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width} px wide"
        assert violations == []
        context.close()
