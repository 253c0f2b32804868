"""Quarantined emails back to ``received`` after a fix (``tidings inbox retry`` then parses them
at once: ``tidings.pipeline.retry``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

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
