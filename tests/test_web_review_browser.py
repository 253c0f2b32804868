"""The review queue in real headless Chromium: an ops user approves a drafted reply and, after a
worker pass and `tidings outbox dispatch`, the message is in the file outbox; approve-and-next
from the keyboard; the pages at phone width; no CSP violation anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine

from tests.browser import PHONE, log_in, watch_csp
from tests.review_support import HOSTILE_HTML, Review
from tests.web_support import PASSWORD, Web, running_app
from tidings.config import BrandsFile
from tidings.store.enums import CaseState
from tidings.store.models import Case

if TYPE_CHECKING:  # for types only: without Playwright the fixture skips instead
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def web(engine: Engine, db_url: str) -> Iterator[Web]:
    """The app with one user per role."""
    with running_app(engine, database_url=db_url) as running:
        yield running


@pytest.fixture
def review(web: Web, db_url: str, brands: BrandsFile) -> Review:
    """Escalations for the test to make, with the bundled templates loaded."""
    made = Review(db_url=db_url, sessions=web.sessions, brands=brands)
    made.load_templates()
    return made


def _state(web: Web, case_id: int) -> CaseState:
    with web.sessions() as session:
        return session.get_one(Case, case_id).state


def _dispatch(db_url: str, outbox: Path) -> None:
    """`tidings outbox dispatch --once`, as an operator runs it, on this checkout's code."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TIDINGS_DATABASE_URL": db_url,
        "TIDINGS_OUTBOX_DIR": str(outbox),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tidings", "outbox", "dispatch", "--once"],
        env=env,
        cwd=outbox.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]


class TestReviewInBrowser:
    def test_ops_approves_and_the_reply_reaches_the_outbox(
        self, web: Web, review: Review, page: Page, db_url: str, tmp_path: Path
    ) -> None:
        """Log in, open the case from the queue, see the email made safe and the preview,
        approve; a worker pass and a dispatch put the reply in the file outbox."""
        case_id = review.escalate("[dmg]", "damaged_item", html=HOSTILE_HTML)
        violations = watch_csp(page)
        log_in(page, web.url, "ops", PASSWORD)
        page.wait_for_url(f"{web.url}/")
        page.get_by_role("link", name="Review queue").click()
        page.wait_for_url(f"{web.url}/queue")
        assert page.get_by_test_id("queue-total").inner_text() == "1"
        page.locator(f"tr[data-case='{case_id}'] a.case-link").click()
        page.wait_for_url(f"{web.url}/cases/{case_id}")
        assert "broken" in page.get_by_test_id("email-html").inner_text()
        assert page.get_by_test_id("blocked-images").is_visible()
        assert page.locator(".email-html img").count() == 0  # the remote pixel never loads
        email_preview = page.locator(".preview-email .preview-text")
        email_preview.wait_for()  # htmx loads the preview
        draft = page.get_by_test_id("reply").input_value()
        assert draft.split()[0] in email_preview.inner_text()
        page.get_by_test_id("approve").click()
        page.get_by_test_id("flash").wait_for()
        assert "approved" in page.get_by_test_id("flash").inner_text()
        assert _state(web, case_id) is CaseState.DECIDED
        review.run()
        assert _state(web, case_id) is CaseState.RESOLVED
        outbox = tmp_path / "outbox"
        _dispatch(db_url, outbox)
        [sent] = list(outbox.rglob("*.eml"))
        message = message_from_bytes(sent.read_bytes(), policy=default)
        assert message["To"] == "dmg@example.com"
        assert f"CASE-{case_id}" in str(message["Subject"])
        body = message.get_body(preferencelist=("plain",))
        assert body is not None and draft.split("\n")[0] in body.get_content()
        assert violations == []

    def test_approve_and_next_from_the_keyboard(self, web: Web, review: Review, page: Page) -> None:
        """In the queue j and o open the first case; a approves it and opens the next; an
        edit typed in the reply and sent with Ctrl+Enter goes as the person's text; the
        last one leads back to the queue."""
        first = review.escalate("[d1]", "damaged_item")
        second = review.escalate("[d2]", "damaged_item")
        violations = watch_csp(page)
        log_in(page, web.url, "ops", PASSWORD)
        page.wait_for_url(f"{web.url}/")
        page.goto(f"{web.url}/queue?category=damaged_item")
        page.keyboard.press("j")
        page.keyboard.press("o")
        page.wait_for_url(f"{web.url}/cases/{first}?category=damaged_item")
        page.get_by_test_id("previews").locator(".preview").first.wait_for()
        page.keyboard.press("a")
        page.wait_for_url(f"{web.url}/cases/{second}?category=damaged_item&done=*")
        assert f"Case {first} approved" in page.get_by_test_id("flash").inner_text()
        page.keyboard.press("e")
        page.keyboard.press("Control+a")
        page.keyboard.type("A new lamp ships today.")
        page.keyboard.press("Control+Enter")
        page.wait_for_url(f"{web.url}/queue?category=damaged_item&done=*")
        assert page.get_by_test_id("queue-empty").is_visible()
        with web.sessions() as session:
            decided = session.get_one(Case, second).decision or {}
        assert decided.get("action") == "edit" and decided.get("reply") == "A new lamp ships today."
        assert _state(web, first) is CaseState.DECIDED
        assert violations == []

    def test_saving_twice_then_approving_what_was_saved(
        self, web: Web, review: Review, page: Page
    ) -> None:
        """Each save answers "Draft saved." and the page now holds the saved draft, so a second
        save is not taken for someone else's change, and approving sends that draft as it is."""
        case_id = review.escalate("[d1]", "damaged_item")
        log_in(page, web.url, "ops", PASSWORD)
        page.wait_for_url(f"{web.url}/")
        page.goto(f"{web.url}/cases/{case_id}")
        reply, status = page.get_by_test_id("reply"), page.locator("#draft-status")
        for text in ("A new lamp ships today.", "A new lamp ships today, by courier."):
            reply.fill(text)
            page.get_by_test_id("save-draft").click()
            page.get_by_test_id("draft-saved").wait_for()
            assert status.inner_text() == "Draft saved."
            assert page.locator("#original").input_value() == text
            status.evaluate("node => { node.textContent = '' }")
        page.get_by_test_id("approve").click()
        page.get_by_test_id("flash").wait_for()
        with web.sessions() as session:
            case = session.get_one(Case, case_id)
            decided, draft = case.decision or {}, case.draft_reply
        assert decided.get("action") == "approve"
        assert draft == "A new lamp ships today, by courier."

    def test_the_queue_and_a_case_fit_a_phone(
        self, web: Web, review: Review, browser: Browser
    ) -> None:
        """At 390 px wide neither page scrolls sideways."""
        case_id = review.escalate("[dmg]", "damaged_item", html=HOSTILE_HTML)
        context = browser.new_context(viewport=PHONE, is_mobile=True)
        phone = context.new_page()
        log_in(phone, web.url, "ops", PASSWORD)
        phone.wait_for_url(f"{web.url}/")
        for path in ("/queue", f"/cases/{case_id}"):
            phone.goto(f"{web.url}{path}")
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width} px wide"
        context.close()
