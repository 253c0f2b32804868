"""A real `tidings outbox dispatch` process killed mid-run: only what was on the wire is in doubt.

The provider (tests/flaky_provider.py, speaking SendGrid) answers slowly, so the killed dispatcher
has leased and rendered many more rows than it has sent. A fresh dispatcher then finishes the
job. Counted against what the provider received: nothing the provider never got is written off
as possibly sent, nothing is received twice, and every row ends sent or (only the sends in flight
at the kill) possibly sent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from tests.channels_support import make_dispatcher
from tests.flaky_provider import FlakyProvider, flaky_provider, slow
from tests.test_outbox_reliability import notified_customers
from tidings.channels.outbox import POSSIBLY_SENT
from tidings.channels.render import default_renderer
from tidings.channels.sendgrid import SendGridChannel
from tidings.config import BrandsFile
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import NotificationState
from tidings.store.models import Notification
from tidings.templates.bundled import BUNDLED_DIR, load_bundled
from tidings.templates.samples import sample_variables

S = NotificationState
ROWS = 60
CONCURRENCY = 4
KILL_AFTER = 24  # messages the provider has taken when the dispatcher dies (a batch is 16)
CALL_SECONDS = 0.5  # the provider's answer time: sends go in waves of CONCURRENCY


def _dispatcher_process(db_url: str, provider: FlakyProvider, cwd: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "TIDINGS_DATABASE_URL": db_url,
        "TIDINGS_SENDGRID__API_KEY": "SG.test",
        "TIDINGS_SENDGRID__HOST": provider.url,
        "TIDINGS_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tidings", "outbox", "dispatch", "--concurrency", str(CONCURRENCY)],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _with_real_templates(sessions: SessionFactory, brands: BrandsFile, tmp_path: Path) -> None:
    """The bundled English default copy published, and variables it accepts: the process renders
    for real. A transactional event, so quiet hours never hold it whatever the time of day."""
    copy = tmp_path / "templates" / "_default"
    copy.mkdir(parents=True)
    shutil.copy(BUNDLED_DIR / "_default" / "en.yaml", copy / "en.yaml")
    variables = sample_variables("order_confirmed", "en", brand=brands.get("kapas"))
    with transaction(sessions) as session:
        load_bundled(session=session, brands=brands, directory=copy.parent)
        session.execute(update(Notification).values(event="order_confirmed", variables=variables))


def _kill_when_taken(process: subprocess.Popen[str], provider: FlakyProvider, count: int) -> None:
    """SIGKILL the dispatcher once the provider has taken ``count`` messages."""
    deadline = time.monotonic() + 30
    while len(provider.accepted) < count:
        if process.poll() is not None:
            raise AssertionError(f"the dispatcher exited early: {process.stderr.read()}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the dispatcher sent too little within 30 s"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    if process.stderr is not None:
        process.stderr.close()


def _recipient(message: dict[str, object]) -> str:
    body = message["body"]
    assert isinstance(body, dict)
    return str(body["personalizations"][0]["to"][0]["email"])


def test_a_killed_dispatcher_leaves_only_sends_in_flight_in_doubt(
    sessions: SessionFactory, brands: BrandsFile, db_url: str, tmp_path: Path
) -> None:
    """SIGKILL mid-run, then a fresh dispatcher: no row the provider never got is dead as
    possibly sent, none is received twice, and all the rest go out exactly once."""
    ids = notified_customers(sessions, brands, ROWS, "email")
    _with_real_templates(sessions, brands, tmp_path)
    with flaky_provider() as provider:
        provider.then(*[slow(CALL_SECONDS)] * ROWS)  # slow, successful answers
        process = _dispatcher_process(db_url, provider, tmp_path)
        try:
            _kill_when_taken(process, provider, KILL_AFTER)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        taken_before_kill = len(provider.accepted)
        provider.script.clear()  # the fresh dispatcher meets a quick provider
        later = utcnow() + timedelta(minutes=6)  # the dead dispatcher's leases have expired
        channel = SendGridChannel(api_key="SG.test", host=provider.url)
        fresh = make_dispatcher(
            sessions,
            brands,
            {channel.kind: channel},
            renderer=default_renderer(),
            clock=lambda: later,
        )
        counts = fresh.run_until_idle().counts
        fresh.close()
        received = Counter(_recipient(m) for m in provider.accepted)
    with sessions() as session:
        rows = {r.id: r for r in session.scalars(select(Notification))}
    assert sorted(rows) == sorted(ids)
    assert max(received.values()) == 1, "a message reached the provider twice"
    never_received = [r for r in rows.values() if received[r.recipient] == 0]
    possibly_sent = [r for r in rows.values() if r.hold_reason == POSSIBLY_SENT]
    assert never_received == [], f"not sent: {[(r.id, r.state.value) for r in never_received]}"
    # Only sends the provider had taken may be in doubt: the wave in flight and the one that
    # ended since outcomes were last committed (every RECORD_EVERY, half a call here); one wave
    # more leaves room for a slow machine. Before, two whole batches (32 rows) were in doubt.
    assert all(received[r.recipient] == 1 for r in possibly_sent)
    assert len(possibly_sent) <= 3 * CONCURRENCY, json.dumps(counts)
    for row in rows.values():
        assert row.state is S.SENT or (row.state is S.DEAD and row.hold_reason == POSSIBLY_SENT), (
            row.id,
            row.state,
            row.last_error,
        )
    assert sum(received.values()) == ROWS and taken_before_kill < ROWS
