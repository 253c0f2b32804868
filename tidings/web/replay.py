"""Replaying dead letters from the dashboard, through the same functions as the CLI:
quarantined emails go back to ``received`` (``tidings inbox retry``), failed cases run again
(``tidings cases retry``), dead notifications go back to the outbox (``tidings outbox replay``).
A worker or the dispatcher picks each up; the web app never runs the pipeline itself."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from tidings.agent.retry import retry_and_forget
from tidings.channels.outbox import replay
from tidings.errors import TidingsError
from tidings.inbox.retry import requeue_quarantined
from tidings.store.db import SessionFactory, transaction

Kind = Literal["emails", "cases", "notifications"]


class ReplayRefusedError(TidingsError):
    """The row is not a dead letter (any more), or does not exist."""


class Replayed(BaseModel):
    """What a replay did."""

    kind: Kind
    id: int
    summary: str


def replay_dead_letter(
    factory: SessionFactory, database_url: str, *, kind: Kind, row_id: int, by: str
) -> Replayed:
    """Put one dead letter back in its queue, or ``ReplayRefusedError`` saying why not."""
    if kind == "emails":
        if not requeue_quarantined(session_factory=factory, ids=[row_id]):
            raise ReplayRefusedError(f"email {row_id} is not quarantined")
        summary = "back in the queue: a worker parses it again"
    elif kind == "cases":
        try:
            summary = retry_and_forget(factory, database_url, row_id, by=by).summary
        except TidingsError as exc:
            raise ReplayRefusedError(str(exc)) from exc
    else:
        with transaction(factory) as session:
            report = replay(session=session, ids=[row_id])
        if row_id in report.skipped:
            raise ReplayRefusedError(f"notification {row_id}: {report.skipped[row_id]}")
        summary = "back in the outbox: the dispatcher sends it again"
    return Replayed(kind=kind, id=row_id, summary=summary)
