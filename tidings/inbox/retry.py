"""``tidings inbox retry``: give quarantined emails another go after a fix.

Quarantined rows go back to ``received`` with their attempts reset, and the parse step runs on
them at once; what still fails is quarantined again with its (new) error.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from tidings.config.brands import BrandsFile
from tidings.config.settings import InboxSettings
from tidings.pipeline.steps import parse_step
from tidings.pipeline.worker import Worker
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import EmailState
from tidings.store.models import InboundEmail


@dataclass
class RetryReport:
    """What a retry did."""

    retried: int = 0
    parsed: int = 0
    quarantined: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts, for ``--json`` output."""
        return {"retried": self.retried, "parsed": self.parsed, "quarantined": self.quarantined}


def requeue_quarantined(
    *, session_factory: SessionFactory, mailbox: str | None = None, ids: list[int] | None = None
) -> list[int]:
    """Move quarantined emails (optionally of one mailbox, or these ids) back to ``received``."""
    query = select(InboundEmail.id).where(InboundEmail.state == EmailState.QUARANTINED)
    if mailbox:
        query = query.where(InboundEmail.mailbox == mailbox)
    if ids:
        query = query.where(InboundEmail.id.in_(ids))
    with transaction(session_factory) as session:
        found = list(session.scalars(query))
        if found:
            session.execute(
                update(InboundEmail)
                .where(InboundEmail.id.in_(found))
                .values(
                    state=EmailState.RECEIVED,
                    attempts=0,
                    next_attempt_at=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    last_error=None,
                )
                .execution_options(synchronize_session=False)
            )
    return found


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
