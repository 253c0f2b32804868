"""``tidings worker``: lease rows, run their step, commit; retry with backoff; dead-letter.

Each row ends in a transaction that also releases its lease, so a crash at any point leaves the
row either untouched (its lease expires and another worker takes it) or finished. Leases are
short (15 s by default) and a heartbeat renews the ones in hand, so a crashed worker's rows come
back within seconds while a live worker keeps a row however long it takes. Run as many workers
as you like against PostgreSQL; on SQLite they take turns.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from tidings.errors import LeaseLostError, TidingsError
from tidings.logs import get_logger
from tidings.metrics import STEP_OUTCOMES
from tidings.pipeline.steps import Step
from tidings.pipeline.work import Work
from tidings.runner import Runner
from tidings.store import lease as leasing
from tidings.store.db import SessionFactory, make_session_factory, refused_data, transaction
from tidings.store.heartbeat import Heartbeat

log = get_logger(__name__)
DEFAULT_LEASE = timedelta(seconds=15)


def is_permanent(exc: Exception) -> bool:
    """Whether trying again cannot help: our own permanent errors, and data the database refused
    (too long, wrong type, a constraint) - the same row would be refused again."""
    if isinstance(exc, TidingsError):
        return not exc.transient
    return refused_data(exc)


def worker_id() -> str:
    """Unique per process and start: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class RunReport:
    """Rows handled in one pass, per outcome."""

    done: int = 0
    retried: int = 0
    dead: int = 0
    by_step: dict[str, int] = field(default_factory=dict)

    @property
    def handled(self) -> int:
        """Rows this pass touched."""
        return self.done + self.retried + self.dead

    def merge(self, other: RunReport) -> None:
        """Add another pass's counts."""
        self.done += other.done
        self.retried += other.retried
        self.dead += other.dead
        for name, count in other.by_step.items():
            self.by_step[name] = self.by_step.get(name, 0) + count


@dataclass
class Periodic:
    """Housekeeping a worker does now and then between passes (pruning old checkpoints)."""

    name: str
    every: timedelta
    run: Callable[[], int]
    due: float = 0.0  # monotonic time of the next run; 0 runs it at the first pass


class Worker(Runner[RunReport]):
    """Runs pipeline steps over leased rows."""

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        steps: list[Step],
        read_sessions: SessionFactory | None = None,
        owner: str | None = None,
        lease_for: timedelta = DEFAULT_LEASE,
        heartbeat_every: float | None = None,
        periodic: list[Periodic] | None = None,
    ) -> None:
        self.sessions = session_factory
        self.read_sessions = read_sessions or make_session_factory(
            session_factory.kw["bind"], read_only=True
        )
        self.steps = steps
        self.owner = owner or worker_id()
        self.lease_for = lease_for
        self.stopping = threading.Event()
        self.periodic = periodic or []
        self.heartbeat = Heartbeat(
            sessions=session_factory, owner=self.owner, lease_for=lease_for, every=heartbeat_every
        )

    def empty_report(self) -> RunReport:
        """Nothing done yet."""
        return RunReport()

    def run_once(self) -> RunReport:
        """One pass: lease a batch for every step and handle it."""
        self._housekeeping()
        report = RunReport()
        for step in self.steps:
            leased_at = time.monotonic()
            with self.sessions() as session:
                ids = leasing.lease(
                    session=session,
                    model=step.model,
                    states=step.consumes,
                    owner=self.owner,
                    limit=step.batch,
                    lease_for=self.lease_for,
                )
            self.heartbeat.hold(step.model, ids)
            try:
                for row_id in ids:
                    if self.stopping.is_set():
                        self._release(step, row_id)
                        continue
                    self._handle(step, self._work(step, row_id, leased_at), report)
                    self.heartbeat.release(step.model, [row_id])
            finally:
                self.heartbeat.release(step.model, ids)
        return report

    def run_forever(self, *, idle_sleep: float = 2.0, max_backoff: float = 60.0) -> None:
        """Work until ``stop()`` (see ``Runner.run_forever``)."""
        log.info("worker started", owner=self.owner, steps=[s.name for s in self.steps])
        try:
            super().run_forever(idle_sleep=idle_sleep, max_backoff=max_backoff)
        finally:
            self.heartbeat.stop()
        log.info("worker stopped", owner=self.owner)

    def _housekeeping(self) -> None:
        """Run the periodic jobs that are due; one that fails is logged and tried next time."""
        now = time.monotonic()
        for job in self.periodic:
            if now < job.due:
                continue
            job.due = now + job.every.total_seconds()
            try:
                done = job.run()
            except Exception as exc:  # housekeeping never stops the pipeline
                log.warning("periodic job failed", job=job.name, error=type(exc).__name__)
                continue
            if done:
                log.info("periodic job", job=job.name, done=done)

    def _work(self, step: Step, row_id: int, leased_at: float) -> Work:
        work = Work(
            model=step.model,
            row_id=row_id,
            owner=self.owner,
            lease_for=self.lease_for,
            sessions=self.sessions,
            read_sessions=self.read_sessions,
        )
        work.proof.renewed(leased_at, self.lease_for)  # lease() set it for all of the batch
        return work

    def _handle(self, step: Step, work: Work, report: RunReport) -> None:
        row_id = work.row_id
        bound = log.bind(step=step.name, row_id=row_id)
        try:
            if not self._holds(work):
                raise LeaseLostError(f"lease on {step.model.__name__} {row_id} lapsed before work")
            if step.run is not None:
                state = step.run(work)
                with transaction(work.sessions) as session:  # complete() checks the lease
                    work.complete(session, state)
            else:
                self._prepare_and_handle(step, work)
        except LeaseLostError:
            bound.warning("lease lost; another worker owns the row now")
            return
        except Exception as exc:  # every failure is recorded on the row, never lost
            self._record_failure(step, row_id, exc, report)
            return
        report.done += 1
        report.by_step[step.name] = report.by_step.get(step.name, 0) + 1
        STEP_OUTCOMES.labels(step=step.name, outcome="done").inc()

    @staticmethod
    def _prepare_and_handle(step: Step, work: Work) -> None:
        """``prepare`` outside the write transaction, then ``handle`` and the state change in
        one transaction."""
        handle = step.handle
        if handle is None:  # Step refuses this at construction; kept for the type checker
            raise TypeError(f"step {step.name} has neither handle nor run")
        prepared = None
        if step.prepare is not None:
            with work.read() as session:
                prepared = step.prepare(session, session.get_one(step.model, work.row_id))
        with transaction(work.sessions) as session:
            row = session.get_one(step.model, work.row_id)
            work.complete(session, handle(session, row, prepared))

    @staticmethod
    def _holds(work: Work) -> bool:
        """Before working a row: is it still ours? (The heartbeat keeps leases in hand alive;
        one taken over meanwhile is left to its new owner.)"""
        return work.holds()

    def _record_failure(self, step: Step, row_id: int, exc: Exception, report: RunReport) -> None:
        permanent = is_permanent(exc)
        policy = leasing.RetryPolicy(max_attempts=1) if permanent else step.policy
        # The DBAPI's own message only: SQLAlchemy's would add the statement's parameters (PII).
        error = f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}"
        with transaction(self.sessions) as session:
            dead = leasing.fail(
                session=session,
                model=step.model,
                row_id=row_id,
                owner=self.owner,
                error=error,
                dead_state=step.dead_state,
                policy=policy,
            )
        outcome = "dead" if dead else "retry"
        if dead:
            report.dead += 1
        else:
            report.retried += 1
        STEP_OUTCOMES.labels(step=step.name, outcome=outcome).inc()
        log.warning("step failed", step=step.name, row_id=row_id, error=error, outcome=outcome)

    def _release(self, step: Step, row_id: int) -> None:
        with transaction(self.sessions) as session:
            leasing.release(session=session, model=step.model, row_ids=[row_id], owner=self.owner)
