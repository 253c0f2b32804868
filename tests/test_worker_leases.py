"""Short leases with a heartbeat: a live worker keeps a slow row, a dead one loses it in seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.inbox.import_files import email_files, import_files
from tidings.pipeline.steps import Step
from tidings.pipeline.worker import DEFAULT_LEASE, Worker
from tidings.store import lease as leasing
from tidings.store.db import SessionFactory
from tidings.store.enums import EmailState
from tidings.store.models import InboundEmail

SAMPLE = Path(__file__).resolve().parent.parent / "tidings/demo/emails/seri-support"


def _one_email(sessions: SessionFactory) -> None:
    import_files(session_factory=sessions, files=email_files(SAMPLE)[:1], mailbox="seri-support")


def _slow_step(seconds: float) -> Step:
    def prepare(session: Session, row: InboundEmail) -> None:
        time.sleep(seconds)  # an LLM call that takes its time

    def handle(session: Session, row: InboundEmail, _prepared: None) -> StrEnum:
        return EmailState.PARSED

    return Step(
        name="slow",
        model=InboundEmail,
        consumes=(EmailState.RECEIVED,),
        dead_state=EmailState.QUARANTINED,
        handle=handle,
        prepare=prepare,
    )


class TestLeases:
    def test_the_default_lease_is_seconds_not_minutes(self) -> None:
        """A crash costs at most the lease: 15 s, not the old 5 minutes."""
        assert timedelta(seconds=15) >= DEFAULT_LEASE

    def test_a_live_worker_keeps_a_row_longer_than_its_lease(
        self, sessions: SessionFactory
    ) -> None:
        """The heartbeat renews the lease while a step outlasts it; nobody else gets the row."""
        _one_email(sessions)
        worker = Worker(
            session_factory=sessions,
            steps=[_slow_step(1.5)],
            lease_for=timedelta(seconds=0.5),
            heartbeat_every=0.1,
        )
        stolen: list[int] = []
        done = threading.Event()

        def thief() -> None:
            while not done.is_set():
                with sessions() as session:
                    stolen.extend(
                        leasing.lease(
                            session=session,
                            model=InboundEmail,
                            states=(EmailState.RECEIVED,),
                            owner="thief",
                            lease_for=timedelta(seconds=10),
                        )
                    )
                time.sleep(0.1)

        thief_thread = threading.Thread(target=thief)
        report_holder: list[int] = []

        def work() -> None:
            report_holder.append(worker.run_once().done)

        runner = threading.Thread(target=work)
        runner.start()
        time.sleep(0.2)  # the worker leases first
        thief_thread.start()
        runner.join(timeout=30)
        done.set()
        thief_thread.join(timeout=5)
        worker.heartbeat.stop()
        assert report_holder == [1]
        assert stolen == []

    def test_a_killed_workers_row_comes_back_within_its_lease(
        self, db_url: str, sessions: SessionFactory
    ) -> None:
        """SIGKILL a worker mid-row: another worker takes the row after about one lease."""
        _one_email(sessions)
        script = textwrap.dedent(
            f"""
            import time
            from datetime import timedelta
            from tidings.store.db import make_engine, make_session_factory
            from tests.test_worker_leases import _slow_step
            from tidings.pipeline.worker import Worker
            sessions = make_session_factory(make_engine({db_url!r}))
            Worker(session_factory=sessions, steps=[_slow_step(600)],
                   lease_for=timedelta(seconds=2), heartbeat_every=0.5).run_once()
            """
        )
        root = Path(__file__).resolve().parent.parent
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=root, env=dict(os.environ))
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with sessions() as session:
                    if session.scalar(select(InboundEmail.lease_owner)):
                        break
                time.sleep(0.1)
            else:
                raise AssertionError("the worker never leased the row")
            time.sleep(2.5)  # longer than the lease: the heartbeat kept it
            with sessions() as session:
                assert not leasing.lease(
                    session=session,
                    model=InboundEmail,
                    states=(EmailState.RECEIVED,),
                    owner="early",
                )
            os.kill(proc.pid, signal.SIGKILL)
            killed = time.monotonic()
        finally:
            proc.kill()
            proc.wait()
        taken: list[int] = []
        while not taken and time.monotonic() - killed < 10:
            with sessions() as session:
                taken = leasing.lease(
                    session=session,
                    model=InboundEmail,
                    states=(EmailState.RECEIVED,),
                    owner="next",
                )
            time.sleep(0.1)
        assert taken, "the row never came back"
        assert time.monotonic() - killed < 3.5
