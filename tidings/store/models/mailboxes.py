"""IMAP sync state: how far each mailbox folder has been read and acknowledged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.store.base import Base, IdMixin, TimestampMixin


class MailboxSyncState(IdMixin, TimestampMixin, Base):
    """One IMAP folder of one configured mailbox.

    Every message with a UID up to ``last_uid`` (under ``uidvalidity``) is committed as an
    ``inbound_emails`` row, or deliberately skipped by the first sync; every UID up to
    ``acked_uid`` has also had its after-commit action (flag seen, move) applied on the server.
    Between the two is work a crash left: the next poll applies it before fetching new mail.
    """

    __tablename__ = "mailbox_sync_state"
    __table_args__ = (UniqueConstraint("mailbox", "folder"),)

    mailbox: Mapped[str] = mapped_column(String(100))
    folder: Mapped[str] = mapped_column(String(255))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    acked_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_polled_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
