"""The dispatcher: lease pending notifications, send them, record how each attempt ended.

For each leased row, in this order:
1. one transaction for the batch decides (policy), renders and stores the rendered message; a
   row to send stays ``pending``, leased to us;
2. in a worker thread, within the provider's rate limit and with at most ``concurrency`` calls
   in flight: a short transaction moves that row to ``sending`` if it is still leased to us
   (``fence.py``; lost lease: no call), then the provider call, outside any transaction;
3. one transaction records ``sent`` with the provider message id, or schedules a retry with
   exponential backoff and jitter, or moves the row to ``dead`` with the error.
A row found ``sending`` with an expired lease belonged to a worker that died between 2 and 3:
the message may be out. An idempotent channel (SMTP's Message-ID, the file outbox) sends it again
safely; for any other the row goes ``dead`` as "possibly sent; not resent automatically". Rows
that were only prepared when a worker died are ``pending``: they are sent once when the lease
runs out. So a crash leaves in doubt only the sends that were really under way.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from tidings.channels.base import Channel, OutboundMessage, SendResult
from tidings.channels.compose import Links, compose, message_from_row
from tidings.channels.fence import SendingFence
from tidings.channels.outbox import POSSIBLY_SENT
from tidings.channels.policy import Drop, Hold, SendPolicy
from tidings.channels.ratelimit import TokenBucket
from tidings.channels.reconcile import ReconcileReport, reconcile
from tidings.channels.render import Renderer, default_renderer
from tidings.channels.status import apply_waiting
from tidings.config.brands import Brand, BrandsFile
from tidings.errors import (
    ChannelError,
    ChannelOutcomeUnknownError,
    ChannelThrottledError,
    TidingsError,
)
from tidings.logs import get_logger
from tidings.runner import Runner
from tidings.store import lease as leasing
from tidings.store.base import utcnow
from tidings.store.brands import brand_slug
from tidings.store.db import SessionFactory, refused_data, transaction
from tidings.store.enums import ChannelKind, NotificationState
from tidings.store.models import Customer, Notification

log = get_logger(__name__)
S = NotificationState
CONSUMES = (S.PENDING, S.HELD, S.SENDING)
# States a prepared row can be in when its provider call starts (``sending``: an idempotent
# channel's resend after a crash).
SENDABLE = (S.PENDING, S.HELD, S.SENDING)
RECONCILE_EVERY = timedelta(minutes=1)
RECORD_EVERY = 0.25  # seconds: how long ended sends wait for their commit while a batch is out
DEFAULT_RETRY = leasing.RetryPolicy(max_attempts=6, base_seconds=30.0, cap_seconds=3600.0)

OUTCOMES = Counter(
    "tidings_notifications_total",
    "Notification attempts by channel and outcome (sent, held, dropped, retry, dead, ...).",
    ["channel", "outcome"],
)


@dataclass
class DispatchReport:
    """Rows one pass handled, by outcome."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        """Count one row."""
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def merge(self, other: DispatchReport) -> None:
        """Add another pass's counts."""
        for outcome, n in other.counts.items():
            self.counts[outcome] = self.counts.get(outcome, 0) + n

    @property
    def handled(self) -> int:
        """Rows touched."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class _Job:
    message: OutboundMessage
    channel: Channel


class _LeaseLost:
    """A send not made: the row was no longer leased to us when its call was due."""


LEASE_LOST = _LeaseLost()
Outcome = SendResult | TidingsError | _LeaseLost


class _RowFailedError(Exception):
    """A row of a batch failed to prepare: prepare the batch again, a savepoint per row."""


def _row_error(exc: Exception) -> TidingsError:
    """Why one row failed to prepare: our errors as they are; data the database refused is
    permanent; anything else becomes a retryable channel error."""
    if isinstance(exc, TidingsError):
        return exc
    if refused_data(exc):
        return TidingsError(f"the database refused the row: {exc}")
    return ChannelError(f"{type(exc).__name__}: {exc}")


@dataclass
class _Batch:
    """Rows leased together: what preparing them decided, and their sends in flight."""

    leased: int
    report: DispatchReport = field(default_factory=DispatchReport)
    futures: dict[Future[Outcome], _Job] = field(default_factory=dict)


class Dispatcher(Runner[DispatchReport]):
    """Sends the outbox."""

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        brands: BrandsFile,
        channels: Mapping[ChannelKind, Channel],
        renderer: Renderer | None = None,
        policy: SendPolicy | None = None,
        retry: leasing.RetryPolicy = DEFAULT_RETRY,
        links: Links | None = None,
        concurrency: int = 8,
        lease_for: timedelta = timedelta(minutes=5),
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = session_factory
        self.brands = brands
        self.channels = dict(channels)
        self.renderer = renderer or default_renderer()
        self.policy = policy or SendPolicy()
        self.retry = retry
        self.links = links or Links()
        self.concurrency = concurrency
        self.lease_for = lease_for
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._fence = SendingFence(
            engine=session_factory.kw["bind"], owner=self.owner, states=SENDABLE
        )
        self.clock = clock
        self.stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="dispatch")
        self._buckets = {
            id(ch): TokenBucket(ch.rate_per_second)
            for ch in self.channels.values()
            if ch.rate_per_second
        }
        self._brand_slugs: dict[int, str] = {}
        self._in_flight: _Batch | None = None
        self._uncounted: list[tuple[str, str]] = []  # (channel, outcome) not yet committed
        self._next_reconcile = clock()
        # Outcomes of provider calls not yet committed (kept across a database outage).
        self._sent: list[tuple[int, SendResult]] = []
        self._failures: list[tuple[int, Channel | None, TidingsError]] = []

    # -- loop ------------------------------------------------------------------------------

    def run_once(self) -> DispatchReport:
        """Lease a batch, prepare it (render, or hold, drop...), send it with bounded concurrency
        (each row committed as ``sending`` just before its call), and record how each ended."""
        report = DispatchReport()
        batch = self._start_batch()
        if batch is not None:
            report.merge(self._finish_batch(batch))
        return report

    def empty_report(self) -> DispatchReport:
        """Nothing sent yet."""
        return DispatchReport()

    def idle_pass(self, total: DispatchReport) -> int:
        """Pipelined: the next batch is prepared while the previous one is on the wire."""
        return self._pipelined_pass(total)

    def run_forever(self, *, idle_sleep: float = 1.0, max_backoff: float = 60.0) -> None:
        """Work until ``stop()``. A database outage pauses the dispatcher with backoff instead of
        ending it: outcomes of sends already made wait in memory for their commit, and rows
        caught mid-send by a crash are recovered by the lease protocol when it resumes."""
        log.info("dispatcher started", owner=self.owner, channels=sorted(self.channels))
        super().run_forever(idle_sleep=idle_sleep, max_backoff=max_backoff)
        log.info("dispatcher stopped", owner=self.owner)

    def finish(self) -> None:
        """On the way out of ``run_forever``: record the batch on the wire when stop() came,
        and anything still in memory. If the database is down, say which rows' outcomes are
        lost (ids only): the lease protocol will treat them as possibly sent."""
        try:
            if self._in_flight is not None:
                batch, self._in_flight = self._in_flight, None
                self._finish_batch(batch)
            else:
                self._flush(DispatchReport())
        except DBAPIError as exc:
            unrecorded = [row_id for row_id, _ in self._sent] + [f[0] for f in self._failures]
            log.error(
                "outcomes not recorded at stop",
                notification_ids=unrecorded,
                error=type(exc.orig).__name__,
            )

    def reconcile(self) -> ReconcileReport:
        """Settle possibly-sent rows with the providers that can look a message up."""
        return reconcile(
            session_factory=self.sessions,
            brands=self.brands,
            channels=self.channels,
            links=self.links,
            now=self.clock(),
            max_attempts=self.retry.max_attempts,
            # Well inside a lease, so the batch on the wire meanwhile is recorded in time.
            budget=self.lease_for / 10,
        )

    def forever_pass(self) -> int:
        """A pipelined pass, and now and then a reconciliation of possibly-sent rows."""
        handled = self._pipelined_pass(DispatchReport())
        now = self.clock()
        if now >= self._next_reconcile:
            self._next_reconcile = now + RECONCILE_EVERY
            settled = self.reconcile().counts
            handled += settled.get("found", 0) + settled.get("resent", 0)
        return handled

    def _pipelined_pass(self, total: DispatchReport) -> int:
        """Start the next batch while the previous one is on the wire, then record that one.

        The provider calls of one batch overlap the database work of the next, so neither the
        providers nor the database wait for the other. Returns the rows leased or finished."""
        # Outcomes a database outage kept in memory are committed before anything is leased:
        # applied later, they could meet a row that was leased again meanwhile.
        leftovers = DispatchReport()
        self._flush(leftovers)
        following = self._start_batch()
        previous, self._in_flight = self._in_flight, following
        finished = self._finish_batch(previous) if previous is not None else DispatchReport()
        finished.merge(leftovers)
        total.merge(finished)
        return (following.leased if following else 0) + finished.handled

    # -- one batch -------------------------------------------------------------------------

    def _start_batch(self) -> _Batch | None:
        """Lease due rows, prepare them (policy, render, store) and hand the sends to the worker
        threads. None when nothing is due."""
        leased_at = self.clock()
        with self.sessions() as session:
            ids = leasing.lease(
                session=session,
                model=Notification,
                states=CONSUMES,
                owner=self.owner,
                limit=self.concurrency * 4,
                lease_for=self.lease_for,
                now=leased_at,
            )
        if not ids:
            return None
        # Calls start only while the lease has a safe margin left.
        deadline = leased_at + self.lease_for * 0.8
        batch = _Batch(leased=len(ids))
        jobs, failures = self._prepare(ids, batch.report)
        self._failures.extend((row_id, None, exc) for row_id, exc in failures)
        batch.futures = {self._pool.submit(self._send, job, deadline): job for job in jobs}
        return batch

    def _finish_batch(self, batch: _Batch) -> DispatchReport:
        """Wait for a batch's sends and record every outcome. While calls are still out, the
        ones that ended are committed every ``RECORD_EVERY`` seconds: a crash then leaves few
        finished sends unrecorded (and so in doubt), even behind a slow provider."""
        waiting = set(batch.futures)
        while waiting:
            done, waiting = wait(waiting, timeout=RECORD_EVERY)
            for future in done:
                self._collect(batch, future)
            if waiting:
                self._flush_meanwhile(batch.report)
        batch.futures = {}
        self._flush(batch.report)
        return batch.report

    def _collect(self, batch: _Batch, future: Future[Outcome]) -> None:
        job, outcome = batch.futures[future], future.result()
        row_id = job.message.notification_id
        if isinstance(outcome, _LeaseLost):
            batch.report.add("lost")
        elif isinstance(outcome, SendResult):
            self._sent.append((row_id, outcome))
        else:
            self._failures.append((row_id, job.channel, outcome))

    def _flush_meanwhile(self, report: DispatchReport) -> None:
        # On an outage the outcomes stay in memory: the batch's last flush tries again, or raises.
        with suppress(DBAPIError):
            self._flush(report)

    def _flush(self, report: DispatchReport) -> None:
        """Commit the outcomes waiting in memory, counting them in ``report``. Each leaves the
        buffer only once committed, so a database outage here loses none: the next pass commits
        them."""
        if self._sent:
            for recorded in self._record_sent(self._sent):
                report.add(recorded)
            self._sent.clear()
        while self._failures:
            row_id, channel, exc = self._failures[0]
            report.add(self._failed(row_id, channel, exc))
            self._failures.pop(0)

    def close(self) -> None:
        """Stop the worker threads and close the providers' connections."""
        self._pool.shutdown(wait=True)
        for channel in self.channels.values():
            channel.close()

    # -- one row ---------------------------------------------------------------------------

    def _send(self, job: _Job, deadline: datetime) -> Outcome:
        """Step 2, in a worker thread: wait for the provider's rate limit, commit the row as
        ``sending``, then call the provider; no call once the wait outlasted our lease (another
        dispatcher may own the row by now)."""
        bucket = self._buckets.get(id(job.channel))
        if bucket is not None:
            bucket.acquire()
        if self.clock() >= deadline:
            return ChannelError("the lease ran out before the provider call; not sent")
        try:
            if not self._fence.claim(job.message.notification_id):
                return LEASE_LOST
        except SQLAlchemyError as exc:  # nothing was sent: retried once the database is back
            return ChannelError(
                f"the database failed before the provider call ({type(exc).__name__}); not sent"
            )
        try:
            return job.channel.send(job.message)
        except ChannelError as exc:
            return exc
        except Exception as exc:  # a provider SDK's surprise: we cannot tell whether it went out
            return ChannelOutcomeUnknownError(f"{type(exc).__name__}: {exc}")

    def _prepare(
        self, ids: list[int], report: DispatchReport
    ) -> tuple[list[_Job], list[tuple[int, TidingsError]]]:
        """Step 1, one transaction for the batch: decide and render each row, and store what was
        rendered; rows to send stay ``pending`` (leased) until their call. A row that fails here
        (a template refused) rolls back alone: the batch is prepared again with a savepoint per
        row. Savepoints only then, because each costs a flush of its own, a third of the
        dispatcher's database time."""
        try:
            return self._prepare_rows(ids, report, isolate=False)
        except (_RowFailedError, DataError, IntegrityError):  # one row's data, at commit too
            return self._prepare_rows(ids, report, isolate=True)

    def _prepare_rows(
        self, ids: list[int], report: DispatchReport, *, isolate: bool
    ) -> tuple[list[_Job], list[tuple[int, TidingsError]]]:
        jobs: list[_Job] = []
        decided: list[Notification] = []
        failures: list[tuple[int, TidingsError]] = []
        outcomes = DispatchReport()
        with self._counted(), transaction(self.sessions) as session:
            rows = session.scalars(select(Notification).where(Notification.id.in_(ids))).all()
            customers = self._customers(session, {r.customer_id for r in rows if r.customer_id})
            for row in sorted(rows, key=lambda r: r.id):
                if row.lease_owner != self.owner:
                    outcomes.add("lost")
                    continue
                recovering = row.state is S.SENDING
                try:
                    with session.begin_nested() if isolate else nullcontext():
                        outcome = self._prepare_row(session, row, customers)
                except Exception as exc:  # recorded on the row, never lost
                    if isinstance(exc, DBAPIError) and not refused_data(exc):
                        raise  # the database, not the row: the run loop backs off
                    if not isolate:
                        raise _RowFailedError from exc
                    failures.append((row.id, _row_error(exc)))
                    continue
                if isinstance(outcome, str):
                    outcomes.add(outcome)
                else:
                    jobs.append(outcome)
                    decided += [] if recovering else [row]
            # Committed pending: a row is sending only once its own call starts (the fence),
            # so a crash before then loses nothing.
            for row in decided:
                row.state = S.PENDING
        report.merge(outcomes)
        return jobs, failures

    def _prepare_row(
        self, session: Session, row: Notification, customers: dict[int, Customer]
    ) -> _Job | str:
        if row.state is S.SENDING:
            return self._recover(session, row)
        return self._decide(session, row, customers.get(row.customer_id or 0))

    def _decide(self, session: Session, row: Notification, customer: Customer | None) -> _Job | str:
        brand = self._brand(session, row.brand_id)
        now = self.clock()
        decision = self.policy.decide(
            session=session,
            brand=brand,
            notification=row,
            customer=customer,
            available=self.channels.keys(),
            now=now,
        )
        if isinstance(decision, Hold):
            self._finish(
                session,
                row,
                S.HELD,
                hold_reason=decision.reason[:200],
                next_attempt_at=decision.until,
            )
            return "held"
        if isinstance(decision, Drop):
            self._finish(session, row, S.DROPPED, hold_reason=decision.reason[:200])
            return "dropped"
        message = compose(
            session=session,
            renderer=self.renderer,
            links=self.links,
            brand=brand,
            row=row,
            customer=customer,
            decision=decision,
        )
        # Sending within this transaction only, so that the frequency cap of the rows decided
        # after it counts it; _prepare_rows commits it pending.
        row.state = S.SENDING
        row.hold_reason = decision.note[:200] if decision.note else None
        return _Job(message, self.channels[decision.kind])

    def _recover(self, session: Session, row: Notification) -> _Job | str:
        """A previous attempt died between the provider call and its commit."""
        channel = self.channels.get(row.channel)
        row.attempts += 1
        crashed = f"attempt {row.attempts} ended between the provider call and its commit"
        if channel is None or not channel.idempotent:
            self._finish(session, row, S.DEAD, hold_reason=POSSIBLY_SENT, last_error=crashed)
            log.warning("possibly sent; not resent", notification_id=row.id, channel=row.channel)
            return "possibly_sent"
        if row.attempts >= self.retry.max_attempts:
            self._finish(session, row, S.DEAD, last_error=f"{crashed}; gave up")
            return "dead"
        # Same key, same Message-ID or file name: the receiving side keeps one copy.
        brand = self._brand(session, row.brand_id)
        return _Job(message_from_row(row, brand, links=self.links), channel)

    def _record_sent(self, sent: list[tuple[int, SendResult]]) -> list[str]:
        """Step 3 for the sends that worked, one transaction: record each as ``sent``, even if
        our lease lapsed meanwhile (it did go out), and apply reports that came early."""
        if not sent:
            return []
        outcomes = []
        with self._counted(), transaction(self.sessions) as session:
            results = dict(sent)
            rows = session.scalars(select(Notification).where(Notification.id.in_(results))).all()
            recorded = []
            for row in rows:
                possibly = row.state is S.DEAD and row.hold_reason == POSSIBLY_SENT
                if row.state is not S.SENDING and not possibly:
                    outcomes.append("lost")  # another worker resent it and recorded that already
                    continue
                row.state = S.SENT
                row.provider_message_id = results[row.id].provider_message_id
                row.sent_at = self.clock()
                row.lease_owner = row.lease_expires_at = row.last_error = None
                if possibly:
                    row.hold_reason = None
                recorded.append(row)
                outcomes.append("sent")
                self._uncounted.append((row.channel.value, "sent"))
            apply_waiting(session=session, notifications=recorded)
        return outcomes

    def _failed(self, row_id: int, channel: Channel | None, exc: TidingsError) -> str:
        """Transaction 3: retry later, or dead-letter with the error."""
        error = f"{type(exc).__name__}: {exc}"
        with self._counted(), transaction(self.sessions) as session:
            if (
                isinstance(exc, ChannelOutcomeUnknownError)
                and channel is not None
                and not channel.idempotent
            ):
                row = session.get(Notification, row_id, populate_existing=True)
                if row is None or row.lease_owner != self.owner:
                    return "lost"
                self._finish(
                    session, row, S.DEAD, hold_reason=POSSIBLY_SENT, last_error=error[:4000]
                )
                return "possibly_sent"
            owned = session.execute(
                update(Notification)
                .where(Notification.id == row_id, Notification.lease_owner == self.owner)
                .values(state=S.PENDING)
                .execution_options(synchronize_session=False)
            )
            if owned.rowcount == 0:  # type: ignore[attr-defined]  # CursorResult for UPDATE
                return "lost"
            policy = self.retry if exc.transient else leasing.RetryPolicy(max_attempts=1)
            now = self.clock()
            dead = leasing.fail(
                session=session,
                model=Notification,
                row_id=row_id,
                owner=self.owner,
                error=error,
                dead_state=S.DEAD,
                policy=policy,
                now=now,
            )
            if not dead and isinstance(exc, ChannelThrottledError) and exc.retry_after:
                self._not_before(session, row_id, now + timedelta(seconds=exc.retry_after))
        outcome = "dead" if dead else "retry"
        # The provider's text can quote the recipient (a phone number, an address): it stays on
        # the row (last_error) for operators and out of the logs.
        log.warning(
            "send failed", notification_id=row_id, error=type(exc).__name__, outcome=outcome
        )
        return outcome

    # -- helpers ---------------------------------------------------------------------------

    def _finish(
        self, session: Session, row: Notification, state: NotificationState, **values: object
    ) -> None:
        row.state = state
        row.lease_owner = row.lease_expires_at = None
        for name, value in values.items():
            setattr(row, name, value)
        self._uncounted.append((row.channel.value, state.value))

    @contextmanager
    def _counted(self) -> Iterator[None]:
        """Outcome counters for what the enclosed transaction commits: published once it has
        committed, dropped if it rolls back (a batch prepared again must not count twice)."""
        try:
            yield
        except BaseException:
            self._uncounted.clear()
            raise
        for channel, outcome in self._uncounted:
            OUTCOMES.labels(channel=channel, outcome=outcome).inc()
        self._uncounted.clear()

    def _not_before(self, session: Session, row_id: int, at: datetime) -> None:
        row = session.get(Notification, row_id, populate_existing=True)
        if row is not None and (row.next_attempt_at is None or row.next_attempt_at < at):
            row.next_attempt_at = at

    def _brand(self, session: Session, brand_id: int) -> Brand:
        slug = self._brand_slugs.get(brand_id)
        if slug is None:
            slug = brand_slug(session, brand_id) or "?"
            self._brand_slugs[brand_id] = slug
        return self.brands.get(slug)

    def _customers(self, session: Session, ids: set[int]) -> dict[int, Customer]:
        if not ids:
            return {}
        found = session.scalars(
            select(Customer).where(Customer.id.in_(ids)).options(selectinload(Customer.consents))
        )
        return {c.id: c for c in found}
