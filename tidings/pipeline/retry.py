"""``tidings inbox retry``: give quarantined emails another go after a fix.

Quarantined rows go back to ``received`` with their attempts reset, and the parse step runs on
them at once; what still fails is quarantined again with its (new) error.
"""

from __future__ import annotations

from sqlalchemy import select

from tidings.config.brands import BrandsFile
from tidings.config.settings import InboxSettings
from tidings.inbox.retry import RetryReport, requeue_quarantined
from tidings.pipeline.steps import parse_step
from tidings.pipeline.worker import Worker
from tidings.store.db import SessionFactory
from tidings.store.enums import EmailState
from tidings.store.models import InboundEmail


def retry_quarantined(
    *,
    session_factory: SessionFactory,
    brands: BrandsFile,
    inbox: InboxSettings,
    mailbox: str | None = None,
    ids: list[int] | None = None,
) -> RetryReport:
    """Requeue quarantined emails and parse them now."""
    found = requeue_quarantined(session_factory=session_factory, mailbox=mailbox, ids=ids)
    report = RetryReport(retried=len(found))
    if not found:
        return report
    Worker(session_factory=session_factory, steps=[parse_step(brands, inbox)]).run_until_idle()
    with session_factory() as session:
        states = session.scalars(select(InboundEmail.state).where(InboundEmail.id.in_(found)))
        for state in states:
            if state == EmailState.QUARANTINED:
                report.quarantined += 1
            elif state != EmailState.RECEIVED:
                report.parsed += 1
    return report
