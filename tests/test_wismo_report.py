"""What proactive WISMO achieved: ``wismo_report`` and /metrics over HTTP."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from tests.channels_support import file_channels, make_dispatcher
from tests.factories import brand_rows
from tests.web_support import running_app
from tests.wismo_support import NOON_IST, parcel, scanner
from tidings.config import BrandsFile
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import CaseState, ShipmentStatus
from tidings.store.models import Case
from tidings.wismo.report import wismo_report

TODAY = NOON_IST.date()


def told_and_sent(sessions: SessionFactory, brands: BrandsFile, outbox: Path) -> None:
    """Four orders, two WISMO emails; three problems told, sent ten minutes after detection."""
    with transaction(sessions) as session:
        kapas = brand_rows(session, brands)["kapas"]
        late = parcel(session, kapas, promised=TODAY - timedelta(days=1))
        parcel(session, kapas, status=ShipmentStatus.FAILED_ATTEMPT)
        parcel(session, kapas, status=ShipmentStatus.HELD_CUSTOMS)
        parcel(session, kapas)
        for _ in range(2):
            session.add(
                Case(
                    brand_id=kapas.id,
                    order_id=late.order_id,
                    category="wismo",
                    confidence=0.9,
                    state=CaseState.AUTO_RESOLVED,
                    created_at=NOON_IST,
                )
            )
    scanner(sessions, brands).scan()
    later = NOON_IST + timedelta(minutes=10)
    make_dispatcher(sessions, brands, file_channels(outbox), clock=lambda: later).run_until_idle()


def test_the_report_counts_messages_emails_and_delays(
    sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
) -> None:
    """Queued and sent by trigger and channel; 2 WISMO emails over 4 orders is 500 per 1,000;
    detection to message is the ten minutes the dispatcher took."""
    told_and_sent(sessions, brands, tmp_path)
    with sessions() as session:
        report = wismo_report(session=session, until=NOON_IST + timedelta(hours=1))
    assert (report.orders, report.wismo_emails) == (4, 2)
    assert report.wismo_emails_per_1000_orders == 500.0
    assert (report.proactive_enqueued, report.proactive_sent) == (3, 3)
    assert {(s.trigger, s.channel, s.sent) for s in report.by_trigger_and_channel} == {
        ("promise_passed", "email", 1),
        ("failed_attempt", "email", 1),
        ("customs_hold", "email", 1),
    }
    assert report.detection_to_message_seconds == {"count": 3, "p50": 600.0, "p90": 600.0}
    assert report.episodes_open == 3
    assert report.episodes_opened == {"delay": 1, "failed_attempt": 1, "customs_hold": 1}
    assert report.last_scan is not None and report.last_scan["enqueued"] == 3
    later = NOON_IST + timedelta(days=40)  # a window the activity is out of
    with sessions() as session:
        old = wismo_report(session=session, until=later, days=30)
    assert (old.orders, old.proactive_enqueued, old.wismo_emails_per_1000_orders) == (0, 0, 0.0)


def test_metrics_serve_the_figures(
    sessions: SessionFactory, brands: BrandsFile, engine: Engine, tmp_path: Path
) -> None:
    """/metrics carries proactive messages by trigger and channel, the WISMO email rate and
    the detection-to-message time, read from the database at scrape time."""
    told_and_sent(sessions, brands, tmp_path / "outbox")
    with running_app(engine, _env_file=None, outbox_dir=tmp_path) as web:
        token = web.token("ops")  # Prometheus scrapes with a token
        with web.client(headers={"Authorization": f"Bearer {token}"}) as client:
            text = client.get("/metrics").text
    assert (
        'tidings_wismo_proactive_messages_total{channel="email",outcome="sent",'
        'trigger="failed_attempt"} 1.0'
    ) in text
    assert "tidings_wismo_emails_per_1000_orders " in text
    assert 'tidings_wismo_episodes_opened_total{problem="delay"} 1.0' in text
    assert "tidings_wismo_episodes_open 3.0" in text


def test_the_dashboard_shows_the_figures(
    sessions: SessionFactory, brands: BrandsFile, engine: Engine, tmp_path: Path
) -> None:
    """Everyone signed in sees proactive WISMO on the dashboard and in /api/dashboard."""
    told_and_sent(sessions, brands, tmp_path / "outbox")
    with running_app(engine, _env_file=None, outbox_dir=tmp_path) as web:
        client = web.login("ops")
        figures = client.get("/api/dashboard").json()["wismo"]
        page = client.get("/", headers={"Accept": "text/html"}).text
    assert figures["episodes_open"] == 3
    assert figures["last_scan"]["episodes_opened"] == 3
    assert 'data-testid="wismo-open">3<' in page
    assert "WISMO emails per 1,000 orders" in page
