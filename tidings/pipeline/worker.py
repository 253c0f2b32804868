"""``tidings worker``: lease rows, run their step, commit; retry with backoff; dead-letter.

Each row is handled in its own transaction that also releases its lease, so a crash at any point
leaves the row either untouched (its lease expires and another worker takes it) or finished.
Run as many workers as you like against PostgreSQL; on SQLite they take turns.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from tidings.errors import LeaseLostError, TidingsError
from tidings.logs import get_logger
from tidings.metrics import STEP_OUTCOMES
from tidings.pipeline.loop import run_until_stopped
from tidings.pipeline.steps import Step
from tidings.store import lease as leasing
from tidings.store.db import SessionFactory, make_session_factory, refused_data, transaction

log = get_logger(__name__)


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


class Worker:
    """Runs pipeline steps over leased rows."""

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        steps: list[Step],
        read_sessions: SessionFactory | None = None,
        owner: str | None = None,
        lease_for: timedelta = timedelta(minutes=5),
    ) -> None:
        self.sessions = session_factory
        self.read_sessions = read_sessions or make_session_factory(
            session_factory.kw["bind"], read_only=True
        )
        self.steps = steps
        self.owner = owner or worker_id()
        self.lease_for = lease_for
        self.stopping = threading.Event()

    def run_once(self) -> RunReport:
        """One pass: lease a batch for every step and handle it."""
        report = RunReport()
        for step in self.steps:
            with self.sessions() as session:
                ids = leasing.lease(
                    session=session,
                    model=step.model,
                    states=step.consumes,
                    owner=self.owner,
                    limit=step.batch,
                    lease_for=self.lease_for,
                )
            for row_id in ids:
                if self.stopping.is_set():
                    self._release(step, row_id)
                    continue
                self._handle(step, row_id, report)
        return report

    def run_until_idle(self, *, max_passes: int = 10_000) -> RunReport:
        """Repeat passes until one finds nothing to do (for the demo and tests). Rows waiting for
        a retry later are left for later."""
        total = RunReport()
        for _ in range(max_passes):
            report = self.run_once()
            if report.handled == 0:
                break
            total.done += report.done
            total.retried += report.retried
            total.dead += report.dead
            for name, count in report.by_step.items():
                total.by_step[name] = total.by_step.get(name, 0) + count
        return total

    def run_forever(self, *, idle_sleep: float = 2.0, max_backoff: float = 60.0) -> None:
        """Work until ``stop()``; sleep between passes that found nothing. A database outage
        (restart, lock timeout) pauses the worker with backoff instead of ending it."""
        log.info("worker started", owner=self.owner, steps=[s.name for s in self.steps])
        run_until_stopped(
            lambda: self.run_once().handled,
            self.stopping,
            idle_sleep=idle_sleep,
            max_backoff=max_backoff,
        )
        log.info("worker stopped", owner=self.owner)

    def stop(self) -> None:
        """Finish the row in hand, give back the rest, and return from ``run_forever``."""
        self.stopping.set()

    def _handle(self, step: Step, row_id: int, report: RunReport) -> None:
        bound = log.bind(step=step.name, row_id=row_id)
        try:
            if not self._renew(step, row_id):
                raise LeaseLostError(f"lease on {step.model.__name__} {row_id} lapsed before work")
            if step.prepare is not None:
                with self.read_sessions() as session:
                    step.prepare(session, session.get_one(step.model, row_id))
            with transaction(self.sessions) as session:
                row = session.get_one(step.model, row_id)
                new_state = step.handle(session, row)
                if not leasing.complete(
                    session=session,
                    model=step.model,
                    row_id=row_id,
                    owner=self.owner,
                    state=new_state,
                ):
                    raise LeaseLostError(f"lease on {step.model.__name__} {row_id} was lost")
        except LeaseLostError:
            bound.warning("lease lost; another worker owns the row now")
            return
        except Exception as exc:  # every failure is recorded on the row, never lost
            self._record_failure(step, row_id, exc, report)
            return
        report.done += 1
        report.by_step[step.name] = report.by_step.get(step.name, 0) + 1
        STEP_OUTCOMES.labels(step=step.name, outcome="done").inc()

    def _renew(self, step: Step, row_id: int) -> bool:
        """Re-arm the lease before working: rows late in a batch must not have lapsed."""
        with self.sessions() as session:
            return leasing.renew(
                session=session,
                model=step.model,
                row_id=row_id,
                owner=self.owner,
                lease_for=self.lease_for,
            )

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
