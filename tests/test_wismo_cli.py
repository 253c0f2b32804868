"""``tidings wismo scan|report`` and the worker's scheduled scan, run as a user runs them; the
demo's late parcels told in each customer's language, on a controlled clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from tests.channels_support import FAST_RETRY, file_channels
from tests.factories import brand_rows
from tests.wismo_support import parcel, queued, scanner
from tidings.channels.dispatch import Dispatcher
from tidings.config import BrandsFile
from tidings.demo.seed import seed_demo
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import NotificationState, ShipmentStatus
from tidings.store.models import WismoScan
from tidings.templates.bundled import load_bundled

ROOT = Path(__file__).resolve().parent.parent


def tidings(*args: str, db_url: str) -> subprocess.CompletedProcess[str]:
    """The command line on the test's database, from outside the checkout."""
    return subprocess.run(
        [sys.executable, "-m", "tidings", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TIDINGS_DATABASE_URL": db_url},
        cwd=ROOT.parent,
        timeout=300,
    )


def last_json(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode == 0, result.stderr
    document: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return document


def test_scan_then_report_as_json(
    db_url: str, sessions: SessionFactory, brands: BrandsFile
) -> None:
    """The scan's last line is shipments, episodes opened and messages queued; a second scan
    queues nothing; the report's last line has the figures retailers track."""
    now = utcnow()
    with transaction(sessions) as session:
        kapas = brand_rows(session, brands)["kapas"]
        parcel(session, kapas, now=now, status=ShipmentStatus.FAILED_ATTEMPT)
        parcel(session, kapas, now=now, promised=now.date() - timedelta(days=2))
        parcel(session, kapas, now=now)
    first = last_json(tidings("wismo", "scan", "--json", db_url=db_url))
    assert first == {"shipments": 3, "episodes_opened": 2, "enqueued": 2}
    again = last_json(tidings("wismo", "scan", "--json", db_url=db_url))
    assert again == {"shipments": 3, "episodes_opened": 0, "enqueued": 0}
    figures = last_json(tidings("wismo", "report", "--json", db_url=db_url))
    assert figures["proactive_enqueued"] == 2 and figures["proactive_sent"] == 0
    assert figures["wismo_emails_per_1000_orders"] == 0.0


def test_the_worker_runs_the_scan(
    db_url: str, sessions: SessionFactory, brands: BrandsFile
) -> None:
    """``tidings worker --once`` scans on its way (the schedule's first run is at start)."""
    with transaction(sessions) as session:
        parcel(
            session,
            brand_rows(session, brands)["griha"],
            now=utcnow(),
            status=ShipmentStatus.HELD_CUSTOMS,
        )
    result = tidings("worker", "--once", db_url=db_url)
    assert result.returncode == 0, result.stderr
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(WismoScan)) == 1
    assert [n.event for n in queued(sessions)] == ["delayed"]


def test_the_demos_late_parcels_are_told_in_each_customers_language(
    sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
) -> None:
    """The demo's data at noon in India (afternoon in Jakarta and Kuala Lumpur): the scan
    tells every customer with a late parcel, the dispatcher writes each message to the file
    outbox in the customer's language, and a second scan (and dispatch) adds nothing."""
    now = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)
    seed_demo(session_factory=sessions, brands=brands, orders=400, seed=7, now=now)
    with transaction(sessions) as session:
        load_bundled(session=session, brands=brands)
    first = scanner(sessions, brands, now).scan()
    assert first.enqueued > 20
    send = Dispatcher(
        session_factory=sessions,
        brands=brands,
        channels=file_channels(tmp_path),
        retry=FAST_RETRY,
        clock=lambda: now,
    )
    counts = send.run_until_idle().counts
    rows = queued(sessions)
    told = [n for n in rows if n.state is NotificationState.SENT]
    assert counts.get("sent", 0) == len(told) > 20
    assert {n.language for n in told} == {"en", "hi", "id", "ms"}
    files = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    assert all(n.provider_message_id and n.provider_message_id[5:] in files for n in told)
    assert {n.event for n in told} >= {"delayed", "failed_attempt", "backorder_update"}
    second = scanner(sessions, brands, now + timedelta(minutes=5)).scan()
    assert (second.episodes_opened, second.enqueued) == (0, 0)
    assert send.run_until_idle().counts == {}
    assert len(queued(sessions)) == len(rows)
