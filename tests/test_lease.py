"""Leasing: each row to one worker at a time, expired leases come back, retries back off."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tidings.store import lease as leasing
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, make_engine, make_session_factory, transaction
from tidings.store.enums import EmailState
from tidings.store.models import InboundEmail

RECEIVED = (EmailState.RECEIVED,)


def _add_emails(sessions: SessionFactory, n: int) -> list[int]:
    with transaction(sessions) as session:
        rows = [
            InboundEmail(
                mailbox="kapas-support",
                dedupe_key=f"m{i}@test",
                content_hash="0" * 64,
                raw=b"Subject: x\r\n\r\nhi",
                size_bytes=16,
            )
            for i in range(n)
        ]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def _lease(sessions: SessionFactory, owner: str, limit: int = 5, **kw: object) -> list[int]:
    with sessions() as session:
        return leasing.lease(
            session=session,
            model=InboundEmail,
            states=RECEIVED,
            owner=owner,
            limit=limit,
            **kw,  # type: ignore[arg-type]
        )


class TestLease:
    def test_leased_rows_are_not_leased_again(self, sessions: SessionFactory) -> None:
        """A second worker gets the remaining rows, never the leased ones."""
        ids = _add_emails(sessions, 8)
        first = _lease(sessions, "a", limit=5)
        second = _lease(sessions, "b", limit=5)
        assert first == ids[:5]
        assert second == ids[5:]
        assert _lease(sessions, "c") == []

    def test_expired_lease_comes_back(self, sessions: SessionFactory) -> None:
        """A dead worker's rows return to the pool once the lease expires."""
        ids = _add_emails(sessions, 2)
        assert _lease(sessions, "dead-worker", lease_for=timedelta(seconds=30)) == ids
        later = utcnow() + timedelta(seconds=31)
        assert _lease(sessions, "b", now=later) == ids

    def test_complete_needs_the_lease(self, sessions: SessionFactory) -> None:
        """A worker whose lease was taken over cannot finish the row."""
        [row_id] = _add_emails(sessions, 1)
        _lease(sessions, "slow", lease_for=timedelta(seconds=1))
        _lease(sessions, "fast", now=utcnow() + timedelta(seconds=5))
        with transaction(sessions) as session:
            kw = {"session": session, "model": InboundEmail, "row_id": row_id}
            assert not leasing.complete(**kw, owner="slow", state=EmailState.PARSED)  # type: ignore[arg-type]
            assert leasing.complete(**kw, owner="fast", state=EmailState.PARSED)  # type: ignore[arg-type]
        with sessions() as session:
            row = session.get_one(InboundEmail, row_id)
            assert (row.state, row.lease_owner) == (EmailState.PARSED, None)

    def test_failure_backs_off_then_dead_letters(self, sessions: SessionFactory) -> None:
        """Failures schedule a later retry; the last allowed failure moves the row to dead."""
        [row_id] = _add_emails(sessions, 1)
        policy = leasing.RetryPolicy(max_attempts=3, base_seconds=10)
        now = utcnow()
        for attempt in range(1, 4):
            assert _lease(sessions, "w", now=now) == [row_id]
            with transaction(sessions) as session:
                dead = leasing.fail(
                    session=session,
                    model=InboundEmail,
                    row_id=row_id,
                    owner="w",
                    error=f"boom {attempt}",
                    dead_state=EmailState.QUARANTINED,
                    policy=policy,
                    now=now,
                )
            with sessions() as session:
                row = session.get_one(InboundEmail, row_id)
            assert dead is (attempt == 3)
            assert row.attempts == attempt and row.last_error == f"boom {attempt}"
            if not dead:
                assert row.next_attempt_at is not None
                wait = row.next_attempt_at - now
                ceiling = 10 * 2 ** (attempt - 1)
                assert timedelta(seconds=ceiling * 0.5) <= wait <= timedelta(seconds=ceiling)
                assert _lease(sessions, "w", now=now) == []  # not before its time
                now = row.next_attempt_at
        assert row.state is EmailState.QUARANTINED
        assert _lease(sessions, "w", now=now + timedelta(days=1)) == []

    def test_release_gives_rows_back(self, sessions: SessionFactory) -> None:
        """Rows released on shutdown are leasable at once."""
        ids = _add_emails(sessions, 3)
        _lease(sessions, "a")
        with transaction(sessions) as session:
            leasing.release(session=session, model=InboundEmail, row_ids=ids, owner="a")
        assert _lease(sessions, "b") == ids


def _claim_all(url: str, owner: str, barrier: threading.Barrier | None, out: list[int]) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    if barrier:
        barrier.wait()
    while ids := _lease(sessions, owner, limit=3):
        out.extend(ids)
    engine.dispose()


def _claim_in_process(url: str, owner: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    claimed: list[int] = []
    _claim_all(url, owner, None, claimed)
    queue.put(claimed)


class TestConcurrentWorkers:
    def _assert_each_row_once(self, ids: list[int], claims: list[list[int]]) -> None:
        counts = Counter(i for claim in claims for i in claim)
        assert sorted(counts) == sorted(ids), "every row was leased"
        assert max(counts.values()) == 1, "no row was leased twice"

    @pytest.mark.postgres
    @pytest.mark.timeout(30)  # without SKIP LOCKED the claim would block on the held rows
    def test_skip_locked_skips_rows_another_transaction_holds(
        self, db_url: str, sessions: SessionFactory
    ) -> None:
        """While one worker's claim is uncommitted, another gets other rows at once, not a wait."""
        ids = _add_emails(sessions, 6)
        holder = sessions()
        held = (
            holder.execute(
                select(InboundEmail.id).order_by(InboundEmail.id).limit(3).with_for_update()
            )
            .scalars()
            .all()
        )
        try:
            other = _lease(sessions, "b", limit=6)
            assert set(other).isdisjoint(held)
            assert other == ids[3:]
        finally:
            holder.rollback()
            holder.close()

    @pytest.mark.postgres
    def test_threads_with_own_sessions_never_share_a_row(
        self, db_url: str, sessions: SessionFactory
    ) -> None:
        """Eight workers, each with its own connection, drain 600 rows with no row twice."""
        ids = _add_emails(sessions, 600)
        barrier = threading.Barrier(8)
        claims: list[list[int]] = [[] for _ in range(8)]
        threads = [
            threading.Thread(target=_claim_all, args=(db_url, f"w{i}", barrier, claims[i]))
            for i in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self._assert_each_row_once(ids, claims)
        assert sum(1 for c in claims if c) > 1, "the work was actually shared"

    def test_processes_never_share_a_row(self, db_url: str, sessions: SessionFactory) -> None:
        """Four worker processes on the same database (SQLite or PostgreSQL) split 300 rows."""
        ids = _add_emails(sessions, 300)
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        procs = [
            ctx.Process(target=_claim_in_process, args=(db_url, f"p{i}", queue)) for i in range(4)
        ]
        for p in procs:
            p.start()
        claims = [queue.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        self._assert_each_row_once(ids, claims)

    def test_lease_ignores_other_states(self, sessions: SessionFactory) -> None:
        """Only rows in the consumed states are leased."""
        ids = _add_emails(sessions, 3)
        with transaction(sessions) as session:
            session.execute(
                update(InboundEmail)
                .where(InboundEmail.id == ids[0])
                .values(state=EmailState.PARSED)
            )
        assert _lease(sessions, "a") == ids[1:]
