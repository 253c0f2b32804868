"""The dashboard's figures and actions through the JSON API, against rows written for each
test: queue depth, emails per hour, auto-resolved share, confidence, notifications per
channel, dead letters and their replay, kill switches, users, readiness and metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import scratch_postgres
from tests.http import loopback_client, serve_app
from tests.web_support import PASSWORD, Web, running_app, submit_login
from tidings.config import Settings
from tidings.store.base import utcnow
from tidings.store.db import make_engine, transaction
from tidings.store.enums import CaseState, ChannelKind, EmailState, NotificationState
from tidings.store.migrate import upgrade
from tidings.store.models import BrandRow, Case, InboundEmail, Notification
from tidings.web.app import create_app

C, E, N = CaseState, EmailState, NotificationState


@pytest.fixture
def web(engine: Engine) -> Iterator[Web]:
    """The app with one user per role."""
    with running_app(engine) as running:
        yield running


def email(session: Session, n: int, *, hours_ago: float, state: EmailState = E.RESOLVED) -> int:
    """An email received ``hours_ago``."""
    row = InboundEmail(
        mailbox="kapas-support",
        dedupe_key=f"test-{n}",
        content_hash=f"{n:064d}",
        raw=b"Subject: x\r\n\r\nx",
        size_bytes=16,
        subject=f"email {n}",
        received_at=utcnow() - timedelta(hours=hours_ago),
        state=state,
        last_error="no From header" if state is E.QUARANTINED else None,
    )
    session.add(row)
    session.flush()
    return row.id


def case(session: Session, email_id: int, state: CaseState, confidence: float) -> int:
    """A case about an email."""
    row = Case(email_id=email_id, category="wismo", confidence=confidence, state=state)
    session.add(row)
    session.flush()
    return row.id


def note(session: Session, n: int, channel: ChannelKind, state: NotificationState) -> int:
    """A notification on a channel."""
    brand = session.scalars(select(BrandRow)).first()
    assert brand is not None
    row = Notification(
        idempotency_key=f"kapas/-/test/{n}",
        brand_id=brand.id,
        event="order_shipped",
        channel=channel,
        language="en",
        recipient="+919800000000" if channel is not ChannelKind.EMAIL else "a@example.com",
        state=state,
        last_error="provider said no" if state is N.DEAD else None,
    )
    session.add(row)
    session.flush()
    return row.id


class TestFigures:
    def test_every_figure_counts_the_rows(self, web: Web) -> None:
        """Queue depth, emails per hour, share auto-resolved, confidence buckets, messages
        per channel and dead letters are exactly what the rows say."""
        with transaction(web.sessions) as session:
            ids = [email(session, n, hours_ago=h) for n, h in enumerate([0.1, 0.2, 2.5, 30])]
            quarantined = email(session, 9, hours_ago=0.3, state=E.QUARANTINED)
            case(session, ids[0], C.AUTO_RESOLVED, 0.97)
            case(session, ids[1], C.AUTO_RESOLVED, 1.0)
            case(session, ids[2], C.ESCALATED, 0.42)
            failed = case(session, ids[3], C.FAILED, 0.55)
            note(session, 1, ChannelKind.EMAIL, N.SENT)
            note(session, 2, ChannelKind.EMAIL, N.DELIVERED)
            note(session, 3, ChannelKind.WHATSAPP, N.FAILED)
            dead = note(session, 4, ChannelKind.WHATSAPP, N.DEAD)
        client = web.login("kapas-manager")
        d = client.get("/api/dashboard").json()
        assert d["queue"]["emails"] == {"resolved": 4, "quarantined": 1}
        assert d["queue"]["cases"] == {"auto_resolved": 2, "escalated": 1, "failed": 1}
        hours = [h["emails"] for h in d["emails_per_hour"]]
        assert len(hours) == 24 and sum(hours) == 4  # the 30-hour-old one is outside
        assert hours[-1] + hours[-2] >= 3 and hours[-3] + hours[-4] >= 1
        assert (d["auto_resolved"], d["finished"]) == (2, 3)  # failed is not finished
        assert d["auto_resolved_share"] == pytest.approx(2 / 3)
        buckets = {b["low"]: b["cases"] for b in d["confidence"]}
        assert buckets[0.9] == 2 and buckets[0.4] == 1 and buckets[0.5] == 1
        assert sum(buckets.values()) == 4
        assert d["notifications"] == [
            {"channel": "email", "sent": 2, "failed": 0},
            {"channel": "whatsapp", "sent": 0, "failed": 2},
        ]
        letters = d["dead_letters"]
        assert (letters["emails"], letters["cases"], letters["notifications"]) == (1, 1, 1)
        assert {(x["kind"], x["id"]) for x in letters["latest"]} == {
            ("email", quarantined),
            ("case", failed),
            ("notification", dead),
        }
        assert d["kill_switches"]["everything"] is False
        page = client.get("/", headers={"Accept": "text/html"}).text
        assert 'hx-get="/dashboard/panels"' in page and 'hx-trigger="every 10s"' in page
        assert 'data-testid="kpi-auto">67%' in page
        # A brand manager sees the dead letters but gets no replay buttons.
        assert 'data-kind="case"' in page and "/replay" not in page
        client.close()

    def test_the_panels_fragment_is_what_htmx_swaps(self, web: Web) -> None:
        """The polled fragment is the panels alone, without the page around them."""
        client = web.login("ops")
        fragment = client.get("/dashboard/panels", headers={"HX-Request": "true"})
        assert fragment.status_code == 200
        assert '<div id="panels"' in fragment.text and "<html" not in fragment.text
        client.close()


class TestReplay:
    def test_each_kind_of_dead_letter_goes_back_to_its_queue(self, web: Web) -> None:
        """Replay puts a quarantined email, a failed case and a dead notification back where a
        worker or the dispatcher takes them; a second replay of each is 409."""
        with transaction(web.sessions) as session:
            bad_email = email(session, 1, hours_ago=1, state=E.QUARANTINED)
            failed_case = case(session, email(session, 2, hours_ago=1), C.FAILED, 0.5)
            session.get_one(Case, failed_case).decision = {"action": "approve", "by": "x"}
            dead = note(session, 3, ChannelKind.SMS, N.DEAD)
        client = web.login("ops")
        for kind, row_id in (
            ("emails", bad_email),
            ("cases", failed_case),
            ("notifications", dead),
        ):
            answer = client.post(f"/api/dead-letters/{kind}/{row_id}/replay")
            assert answer.status_code == 200, answer.text
            assert answer.json()["kind"] == kind
            again = client.post(f"/api/dead-letters/{kind}/{row_id}/replay")
            assert again.status_code == 409, again.text
        with web.sessions() as session:
            assert session.get_one(InboundEmail, bad_email).state is E.RECEIVED
            assert session.get_one(Case, failed_case).state is C.DECIDED
            assert session.get_one(Notification, dead).state is N.PENDING
        client.close()

    def test_the_page_button_swaps_the_panels_with_a_message(self, web: Web) -> None:
        """The dashboard's button (an htmx POST) answers with fresh panels and what it did."""
        with transaction(web.sessions) as session:
            dead = note(session, 1, ChannelKind.EMAIL, N.DEAD)
        client = web.login("admin")
        page = client.get("/", headers={"Accept": "text/html"}).text
        assert f'hx-post="/dead-letters/notifications/{dead}/replay"' in page
        answer = client.post(
            f"/dead-letters/notifications/{dead}/replay", headers={"HX-Request": "true"}
        )
        assert answer.status_code == 200
        assert f"Notification {dead}: back in the outbox" in answer.text
        assert 'data-testid="kpi-dead">0<' in answer.text
        client.close()


class TestKillSwitch:
    def test_admin_flips_and_everyone_sees(self, web: Web) -> None:
        """An admin engages a brand's switch and then the global one; ops see both and may not
        flip them; an unknown brand is 422."""
        admin, ops = web.login("admin"), web.login("ops")
        one = admin.put("/api/killswitch", json={"brand": "seri", "engaged": True})
        assert one.status_code == 200 and one.json()["engaged_brands"] == ["seri"]
        assert admin.put("/api/killswitch", json={"engaged": True}).json()["everything"] is True
        seen = ops.get("/api/killswitch").json()
        assert seen["everything"] is True and seen["engaged_brands"] == ["seri"]
        assert seen["switches"][0]["changed_by"] == "web:admin"
        assert ops.put("/api/killswitch", json={"engaged": False}).status_code == 403
        assert (
            admin.put("/api/killswitch", json={"brand": "nope", "engaged": True}).status_code == 422
        )
        page = ops.get("/", headers={"Accept": "text/html"}).text
        assert 'data-testid="killswitch-banner"' in page and "stopped everywhere" in page
        admin.close()
        ops.close()

    def test_the_environment_switch_shows(self, engine: Engine) -> None:
        """TIDINGS_KILL_SWITCH is shown as engaged everywhere, and not as a button."""
        with running_app(engine, kill_switch=True) as web:
            admin = web.login("admin")
            assert admin.get("/api/killswitch").json()["environment"] is True
            page = admin.get("/killswitch", headers={"Accept": "text/html"}).text
            assert "TIDINGS_KILL_SWITCH" in page and 'data-testid="toggle-global"' not in page
            admin.close()


class TestUsers:
    def test_admin_adds_and_disables_users(self, web: Web) -> None:
        """Added users can log in with their role and brands; a taken name is 409, a short
        password or an unknown brand 422; the last active admin cannot be disabled."""
        admin = web.login("admin")
        new = {
            "name": "Seri-Lead",
            "role": "brand_manager",
            "password": PASSWORD,
            "brands": ["seri"],
        }
        created = admin.post("/api/users", json=new)
        assert created.status_code == 201 and created.json()["name"] == "seri-lead"
        assert admin.post("/api/users", json=new).status_code == 409
        weak = {**new, "name": "weak", "password": "short"}
        assert admin.post("/api/users", json=weak).status_code == 422
        odd = {**new, "name": "odd", "brands": ["nope"]}
        assert "known brands are" in admin.post("/api/users", json=odd).json()["detail"]
        lead = web.login("seri-lead")
        assert lead.get("/api/me").json()["brands"] == ["seri"]
        assert admin.post("/api/users/admin/disable").status_code == 409
        names = [u["name"] for u in admin.get("/api/users").json()]
        assert names == ["admin", "kapas-manager", "ops", "seri-lead"]
        admin.close()
        lead.close()

    def test_the_users_page_form(self, web: Web) -> None:
        """The page's form adds a user and shows a refusal in words."""
        admin = web.login("admin")
        form = {"name": "night-ops", "role": "ops", "password": PASSWORD}
        assert admin.post("/users", data=form).status_code == 303
        again = admin.post("/users", data=form, headers={"Accept": "text/html"})
        assert again.status_code == 409 and "exists already" in again.text
        page = admin.get("/users", headers={"Accept": "text/html"}).text
        assert 'data-user="night-ops"' in page
        admin.close()


class TestProbes:
    def test_readyz_needs_the_schema_at_head(self, backend: str, tmp_path: Path) -> None:
        """/readyz is 503 naming the fix while the schema is behind, 200 once upgraded."""
        if backend == "sqlite":
            self._check_readyz(f"sqlite:///{tmp_path / 'behind.db'}")
        else:
            with scratch_postgres("tidings_ready") as url:
                self._check_readyz(url)

    def _check_readyz(self, url: str) -> None:
        upgrade(url, "0006_agent")
        engine = make_engine(url)
        try:
            with (
                serve_app(create_app(Settings(), engine=engine)) as base,
                loopback_client(base) as c,
            ):
                behind = c.get("/readyz")
                assert behind.status_code == 503 and "tidings db upgrade" in behind.json()["reason"]
                assert c.get("/healthz").status_code == 200
                upgrade(url)
                assert c.get("/readyz").json()["status"] == "ready"
        finally:
            engine.dispose()

    def test_metrics_for_tokens_not_strangers(self, web: Web) -> None:
        """Prometheus scrapes /metrics with a token; without one it is 401."""
        with transaction(web.sessions) as session:
            email(session, 1, hours_ago=1, state=E.QUARANTINED)
        token = web.token("ops")
        with web.client() as stranger:
            assert stranger.get("/metrics").status_code == 401
        with web.client(headers={"Authorization": f"Bearer {token}"}) as scraper:
            text = scraper.get("/metrics").text
        assert re.search(r'tidings_queue_rows\{state="quarantined",table="emails"\} 1\.0', text)

    def test_pages_send_people_to_the_login_page(self, web: Web) -> None:
        """A browser without a session is sent to log in (and back after); htmx polling with
        an ended session is told to go there instead of swapping a login page into a panel."""
        with web.client() as browser:
            answer = browser.get("/users", headers={"Accept": "text/html"})
            assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/users"
            polled = browser.get("/dashboard/panels", headers={"HX-Request": "true"})
            assert polled.headers["hx-redirect"].startswith("/login")
            assert submit_login(browser, "ops", PASSWORD).status_code == 303
            denied = browser.get("/users", headers={"Accept": "text/html"})
            assert denied.status_code == 403 and "You do not have access" in denied.text
