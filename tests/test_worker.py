"""The worker: steps move rows on, failures retry and end quarantined, nothing is lost."""

from __future__ import annotations

import time
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from tidings.config import BrandsFile
from tidings.config.settings import InboxSettings
from tidings.errors import InboxError
from tidings.inbox.import_files import email_files, import_files
from tidings.pipeline.steps import Step, parse_step
from tidings.pipeline.work import Work
from tidings.pipeline.worker import Worker
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import EmailState
from tidings.store.lease import RetryPolicy
from tidings.store.models import InboundEmail

SAMPLES = Path(__file__).resolve().parent.parent / "tidings" / "demo" / "emails"


def _import_samples(sessions: SessionFactory) -> int:
    files = email_files(SAMPLES / "seri-support")
    return import_files(session_factory=sessions, files=files, mailbox="seri-support").imported


def email_step(
    name: str, handle: object, consumes: EmailState = EmailState.RECEIVED, **options: object
) -> Step:
    """A step over inbound emails that quarantines its dead letters."""
    return Step(
        name=name,
        model=InboundEmail,
        consumes=(consumes,),
        dead_state=EmailState.QUARANTINED,
        handle=handle,
        **options,
    )  # type: ignore[arg-type]


def _states(sessions: SessionFactory) -> list[EmailState]:
    with sessions() as session:
        return list(session.scalars(select(InboundEmail.state)))


class TestWorker:
    def test_parse_step_parses_every_sample(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """received -> parsed for every email, with the parsed form stored on the row."""
        n = _import_samples(sessions)
        report = Worker(
            session_factory=sessions, steps=[parse_step(brands, InboxSettings())]
        ).run_until_idle()
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

        def flaky(session: Session, row: InboundEmail, _prepared: object) -> StrEnum:
            calls.append(row.id)
            raise ConnectionError("order API unreachable")

        step = email_step(
            "flaky",
            flaky,
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

        def refuse(session: Session, row: InboundEmail, _prepared: object) -> StrEnum:
            raise InboxError("unreadable MIME")

        step = email_step("refuse", refuse)
        report = Worker(session_factory=sessions, steps=[step]).run_until_idle()
        assert report.dead == len(_states(sessions)) and report.retried == 0

    def test_failed_step_rolls_back_its_writes(self, sessions: SessionFactory) -> None:
        """What a failing step wrote before it failed is not committed."""
        _import_samples(sessions)

        def half_done(session: Session, row: InboundEmail, _prepared: object) -> StrEnum:
            row.subject = "CHANGED"
            raise ConnectionError("later")

        step = email_step("half", half_done)
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
        report = Worker(
            session_factory=sessions, steps=[parse_step(brands, InboxSettings())]
        ).run_until_idle()
        assert report.done == n
        assert set(_states(sessions)) == {EmailState.PARSED}


class TestReviewFixes:
    def test_a_later_step_starts_with_fresh_attempts(self, sessions: SessionFactory) -> None:
        """Failures in one step do not count against the next one."""
        _import_samples(sessions)
        failures = {"first": 0}

        def first(session: Session, row: InboundEmail, _prepared: object) -> StrEnum:
            if failures["first"] < 3:
                failures["first"] += 1
                raise ConnectionError("flaky")
            return EmailState.PARSED

        def second(session: Session, row: InboundEmail, _prepared: object) -> StrEnum:
            raise ConnectionError("second step's own failure")

        policy = RetryPolicy(max_attempts=4, base_seconds=0.0)
        steps = [
            email_step("one", first, policy=policy, batch=1),
            email_step("two", second, EmailState.PARSED, policy=policy, batch=1),
        ]
        worker = Worker(session_factory=sessions, steps=steps)
        for _ in range(5):
            worker.run_once()
        with sessions() as session:
            rows = session.scalars(
                select(InboundEmail).where(InboundEmail.last_error.like("%second%"))
            ).all()
        assert rows, "the second step ran and failed"
        assert all(r.state is EmailState.PARSED and r.attempts < 4 for r in rows)

    def test_data_the_database_refuses_is_not_retried(self, sessions: SessionFactory) -> None:
        """An IntegrityError or DataError is permanent: quarantined at once, not retried."""
        _import_samples(sessions)

        def too_long(session: Session, row: InboundEmail, _prepared: object) -> StrEnum:
            raise DataError(
                "UPDATE ...", {}, Exception("value too long for type character varying(8)")
            )

        step = email_step("x", too_long)
        report = Worker(session_factory=sessions, steps=[step]).run_until_idle()
        assert report.retried == 0 and report.dead == len(_states(sessions))
        with sessions() as session:
            errors = set(session.scalars(select(InboundEmail.last_error)))
        assert errors == {"DataError: value too long for type character varying(8)"}

    def test_a_row_taken_over_is_not_worked(self, sessions: SessionFactory) -> None:
        """A row another worker took over (its lease lapsed) is left to its new owner."""
        _import_samples(sessions)
        calls: list[int] = []

        def record(session: Session, row: InboundEmail, _prepared: object) -> StrEnum:
            calls.append(row.id)
            return EmailState.PARSED

        # A short lease, and a batch slow enough to outlive the third of it that the worker
        # trusts without asking: then it asks, and finds the row gone.
        lease = timedelta(seconds=0.3)
        worker = Worker(session_factory=sessions, steps=[email_step("r", record)], lease_for=lease)
        original = worker._holds

        def taken_over(work: Work) -> bool:
            time.sleep(lease.total_seconds() / 3)
            with transaction(sessions) as session:
                session.execute(
                    update(InboundEmail)
                    .where(InboundEmail.id == work.row_id)
                    .values(lease_owner="another-worker")
                )
            return original(work)

        worker._holds = taken_over  # type: ignore[method-assign]
        worker.run_once()
        assert calls == []
        with sessions() as session:
            owners = set(session.scalars(select(InboundEmail.lease_owner)))
        assert owners == {"another-worker"}

    def test_prepare_runs_outside_the_write_transaction(
        self, sessions: SessionFactory, backend: str
    ) -> None:
        """While ``prepare`` works (an LLM call), another writer can still write on SQLite."""
        _import_samples(sessions)
        wrote: list[bool] = []

        def prepare(session: Session, row: InboundEmail) -> None:
            if not wrote:
                with transaction(sessions) as other:  # would time out if we held the lock
                    other.execute(
                        update(InboundEmail)
                        .where(InboundEmail.id == row.id)
                        .values(subject="touched")
                    )
                wrote.append(True)

        step = Step(
            name="p",
            model=InboundEmail,
            consumes=(EmailState.RECEIVED,),
            dead_state=EmailState.QUARANTINED,
            handle=lambda s, r, p: EmailState.PARSED,
            prepare=prepare,
        )
        report = Worker(session_factory=sessions, steps=[step]).run_once()
        assert wrote == [True] and report.done > 0
