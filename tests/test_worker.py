"""The worker: steps move rows on, failures retry and end quarantined, nothing is lost."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.config import BrandsFile
from tidings.errors import InboxError
from tidings.inbox.import_files import email_files, import_files
from tidings.pipeline.steps import Step, default_steps
from tidings.pipeline.worker import Worker
from tidings.store.db import SessionFactory
from tidings.store.enums import EmailState
from tidings.store.lease import RetryPolicy
from tidings.store.models import InboundEmail

SAMPLES = Path(__file__).resolve().parent.parent / "tidings" / "demo" / "emails"


def _import_samples(sessions: SessionFactory) -> int:
    files = email_files(SAMPLES / "seri-support")
    return import_files(session_factory=sessions, files=files, mailbox="seri-support").imported


def _states(sessions: SessionFactory) -> list[EmailState]:
    with sessions() as session:
        return list(session.scalars(select(InboundEmail.state)))


class TestWorker:
    def test_parse_step_parses_every_sample(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """received -> parsed for every email, with the parsed form stored on the row."""
        n = _import_samples(sessions)
        report = Worker(session_factory=sessions, steps=default_steps(brands)).run_until_idle()
        assert report.by_step == {"parse": n}
        assert set(_states(sessions)) == {EmailState.PARSED}
        with sessions() as session:
            parsed = session.scalars(select(InboundEmail.parsed)).all()
        assert all(p and p["text"] for p in parsed)
        assert any(p and "SERI-" in "".join(p["order_ids"]) for p in parsed)

    def test_transient_failures_retry_then_dead_letter(self, sessions: SessionFactory) -> None:
        """A step that keeps failing is retried with backoff, then quarantined with its error."""
        _import_samples(sessions)
        calls: list[int] = []

        def flaky(session: Session, row: InboundEmail) -> StrEnum:
            calls.append(row.id)
            raise ConnectionError("order API unreachable")

        step = Step(
            name="flaky",
            model=InboundEmail,
            consumes=(EmailState.RECEIVED,),
            dead_state=EmailState.QUARANTINED,
            handle=flaky,
            policy=RetryPolicy(max_attempts=2, base_seconds=0.0),
        )
        Worker(session_factory=sessions, steps=[step]).run_until_idle()
        with sessions() as session:
            rows = session.scalars(select(InboundEmail)).all()
        assert {r.state for r in rows} == {EmailState.QUARANTINED}
        assert all(r.attempts == 2 and "unreachable" in (r.last_error or "") for r in rows)
        assert len(calls) == 2 * len(rows)

    def test_permanent_error_quarantines_at_once(self, sessions: SessionFactory) -> None:
        """A malformed email is not retried: it is quarantined after one attempt."""
        _import_samples(sessions)

        def refuse(session: Session, row: InboundEmail) -> StrEnum:
            raise InboxError("unreadable MIME")

        step = Step(
            name="refuse",
            model=InboundEmail,
            consumes=(EmailState.RECEIVED,),
            dead_state=EmailState.QUARANTINED,
            handle=refuse,
        )
        report = Worker(session_factory=sessions, steps=[step]).run_until_idle()
        assert report.dead == len(_states(sessions)) and report.retried == 0

    def test_failed_step_rolls_back_its_writes(self, sessions: SessionFactory) -> None:
        """What a failing step wrote before it failed is not committed."""
        _import_samples(sessions)

        def half_done(session: Session, row: InboundEmail) -> StrEnum:
            row.subject = "CHANGED"
            raise ConnectionError("later")

        step = Step(
            name="half",
            model=InboundEmail,
            consumes=(EmailState.RECEIVED,),
            dead_state=EmailState.QUARANTINED,
            handle=half_done,
        )
        Worker(session_factory=sessions, steps=[step]).run_once()
        with sessions() as session:
            assert "CHANGED" not in set(session.scalars(select(InboundEmail.subject)))

    def test_rows_of_a_crashed_worker_are_picked_up(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A worker that leased rows and died leaves them to the next worker after the lease."""
        n = _import_samples(sessions)
        from tidings.store import lease as leasing

        with sessions() as session:
            leasing.lease(
                session=session,
                model=InboundEmail,
                states=(EmailState.RECEIVED,),
                owner="crashed",
                limit=100,
                lease_for=timedelta(milliseconds=1),
            )
        import time

        time.sleep(0.01)
        report = Worker(session_factory=sessions, steps=default_steps(brands)).run_until_idle()
        assert report.done == n
        assert set(_states(sessions)) == {EmailState.PARSED}
