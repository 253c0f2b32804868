"""Checkpoints of closed cases are pruned (LangGraph keeps them forever); paused ones stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text, update

from tests.agent_support import (
    Scripted,
    add_order,
    agent_pipeline,
    brand_row,
    mail,
    one,
    receive,
    verdict,
    work,
)
from tidings.agent.build import prune_closed
from tidings.config import BrandsFile
from tidings.pipeline.worker import Periodic, Worker
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import CaseState
from tidings.store.models import Case


def _threads(sessions: SessionFactory) -> set[str]:
    with sessions() as session:
        return set(session.execute(text("SELECT DISTINCT thread_id FROM checkpoints")).scalars())


class TestPrune:
    def test_closed_cases_lose_their_checkpoints_paused_ones_keep_them(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """After the retention, a resolved case's thread is deleted; an escalated case, which
        waits at the review interrupt, keeps its checkpoint."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = add_order(session, kapas, email="p@example.com")
        done = receive(sessions, kapas, mail(sender="p@example.com", subject="[w] x", body="x"))
        paused = receive(sessions, kapas, mail(sender="p@example.com", subject="[d] x", body="x"))
        script = Scripted(
            {
                "[w]": verdict("wismo", order_id=order.number),
                "[d]": verdict("damaged_item", order_id=order.number),
            }
        )
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
        assert _threads(sessions) == {f"email-{done}", f"email-{paused}"}
        assert prune_closed(db_url, sessions, timedelta(days=7)) == 0  # closed too recently
        with transaction(sessions) as session:
            session.execute(update(Case).values(closed_at=utcnow() - timedelta(days=8)))
        jobs = [
            Periodic(
                "prune",
                timedelta(hours=1),
                lambda: prune_closed(db_url, sessions, timedelta(days=7)),
            )
        ]
        worker = Worker(session_factory=sessions, steps=[], periodic=jobs)
        worker.run_once()
        worker.run_once()  # not due again for an hour
        assert _threads(sessions) == {f"email-{paused}"}
        with sessions() as session:
            resolved = one(session, Case, email_id=done)
            waiting = one(session, Case, email_id=paused)
        assert resolved.state is CaseState.AUTO_RESOLVED and resolved.thread_id is None
        assert waiting.state is CaseState.ESCALATED and waiting.thread_id == f"email-{paused}"
