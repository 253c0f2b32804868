"""UID-based sync of one IMAP folder into committed ``inbound_emails`` rows.

The order of operations is the whole point:

1. fetch a batch with ``BODY.PEEK[]`` (the server marks nothing);
2. in ONE transaction, store every message (dedupe on Message-ID or content hash) and advance
   ``last_uid`` past the batch; commit;
3. only then flag the batch ``\\Seen`` or move it, and advance ``acked_uid``.

A crash before 2 leaves nothing committed and nothing marked: the batch is fetched again. A crash
between 2 and 3 leaves rows committed and messages unmarked: the next sync first acknowledges the
UIDs in ``(acked_uid, last_uid]``. Replays are harmless because storing is idempotent. When the
server's UIDVALIDITY changes (the folder was rebuilt), UIDs mean nothing any more: the sync rescans
mail since the last successful poll and dedupe sorts out what is already stored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tidings.config.settings import InboxSettings, MailboxSettings
from tidings.inbox.imap import MAX_FETCH_BYTES, Fetched, FolderStatus, ImapSession
from tidings.inbox.store import StoreResult, store_raw_email
from tidings.logs import get_logger
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, make_session_factory, transaction
from tidings.store.models import MailboxSyncState

log = get_logger(__name__)


@dataclass
class SyncReport:
    """What one sync or backfill did."""

    fetched: int = 0
    imported: int = 0
    duplicates: int = 0
    quarantined: int = 0
    acknowledged: int = 0
    uidvalidity_reset: bool = False

    def count(self, result: StoreResult) -> None:
        """Add one stored message's outcome."""
        if result.outcome == "imported":
            self.imported += 1
        elif result.outcome == "duplicate":
            self.duplicates += 1
        else:
            self.quarantined += 1

    def add(self, other: SyncReport) -> None:
        """Add another report's counts to this one."""
        for name, value in asdict(other).items():
            if isinstance(value, bool):
                setattr(self, name, getattr(self, name) or value)
            else:
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int | bool]:
        """The counts, for ``--json`` output."""
        return asdict(self)


@dataclass(frozen=True)
class Cursor:
    """Where the sync of one folder stands."""

    uidvalidity: int
    last_uid: int
    acked_uid: int
    last_polled_at: datetime | None


class FolderSync:
    """Syncs one mailbox's folder; stateless between calls (the state is in the database)."""

    def __init__(
        self,
        *,
        mailbox: MailboxSettings,
        inbox: InboxSettings,
        session_factory: SessionFactory,
        brand_id: int | None = None,
    ) -> None:
        self.box = mailbox
        self.inbox = inbox
        self.sessions = session_factory
        # Reads take no write lock (SQLite): a busy writer never stalls the fetch side.
        self.readers = make_session_factory(session_factory.kw["bind"], read_only=True)
        self.brand_id = brand_id
        self.log = log.bind(mailbox=mailbox.name, folder=mailbox.folder)

    def sync(self, imap: ImapSession) -> SyncReport:
        """Acknowledge what a crash left, then store every new message, batch by batch."""
        report = SyncReport()
        status = imap.select()
        cursor = self._cursor(imap, status, report)
        if cursor.acked_uid < cursor.last_uid:
            report.acknowledged += self._acknowledge_pending(imap, cursor)
        new = imap.uids_after(cursor.last_uid)
        for batch in self._batches(imap, new):
            self._store_batch(imap, batch, status.uidvalidity, report, advance=True)
        self._finish(status.uidvalidity)
        return report

    def backfill(self, imap: ImapSession, since: date) -> SyncReport:
        """Store every message that arrived since ``since``, whatever the cursor says."""
        report = SyncReport()
        status = imap.select()
        self._cursor(imap, status, report)
        for batch in self._batches(imap, imap.uids_since(since)):
            self._store_batch(imap, batch, status.uidvalidity, report, advance=False)
        return report

    # --- the cursor ---------------------------------------------------------------------

    def _load(self) -> MailboxSyncState | None:
        with self.readers() as session:
            return session.scalars(
                select(MailboxSyncState).where(
                    MailboxSyncState.mailbox == self.box.name,
                    MailboxSyncState.folder == self.box.folder,
                )
            ).one_or_none()

    def _cursor(self, imap: ImapSession, status: FolderStatus, report: SyncReport) -> Cursor:
        """The stored cursor; on first sight or a UIDVALIDITY change, a new one."""
        row = self._load()
        if row is not None and row.uidvalidity == status.uidvalidity:
            return Cursor(row.uidvalidity, row.last_uid, row.acked_uid, row.last_polled_at)
        if row is None:
            since = utcnow().date() - timedelta(days=self.inbox.first_sync_days)
            self.log.info("first sync of this folder", since=since.isoformat())
        else:
            # Mail since the last good poll may be unseen; a day's margin covers time zones.
            since = (row.last_polled_at or utcnow()).date() - timedelta(days=1)
            report.uidvalidity_reset = True
            self.log.warning(
                "UIDVALIDITY changed: rescanning", old=row.uidvalidity, new=status.uidvalidity
            )
        recent = imap.uids_since(since)
        start = recent[0] - 1 if recent else max(status.uidnext - 1, 0)
        with transaction(self.sessions) as session:
            self._save(session, uidvalidity=status.uidvalidity, last_uid=start, acked_uid=start)
        return Cursor(status.uidvalidity, start, start, None)

    def _save(self, session: Session, **values: object) -> None:
        updated = session.execute(
            update(MailboxSyncState)
            .where(
                MailboxSyncState.mailbox == self.box.name,
                MailboxSyncState.folder == self.box.folder,
            )
            .values(updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            session.add(MailboxSyncState(mailbox=self.box.name, folder=self.box.folder, **values))

    def _advance(self, session: Session, column: str, uid: int, uidvalidity: int) -> None:
        """Move ``last_uid`` or ``acked_uid`` forward, never back (two pollers may race)."""
        target = getattr(MailboxSyncState, column)
        session.execute(
            update(MailboxSyncState)
            .where(
                MailboxSyncState.mailbox == self.box.name,
                MailboxSyncState.folder == self.box.folder,
                MailboxSyncState.uidvalidity == uidvalidity,
                target < uid,
            )
            .values({column: uid, "updated_at": utcnow()})
            .execution_options(synchronize_session=False)
        )

    def _finish(self, uidvalidity: int) -> None:
        with transaction(self.sessions) as session:
            session.execute(
                update(MailboxSyncState)
                .where(
                    MailboxSyncState.mailbox == self.box.name,
                    MailboxSyncState.folder == self.box.folder,
                    MailboxSyncState.uidvalidity == uidvalidity,
                )
                .values(last_polled_at=utcnow(), last_error=None, consecutive_failures=0)
                .execution_options(synchronize_session=False)
            )

    def record_failure(self, error: str) -> None:
        """Note a failed poll on the folder's row (best effort: the database may be the
        problem)."""
        with transaction(self.sessions) as session:
            session.execute(
                update(MailboxSyncState)
                .where(
                    MailboxSyncState.mailbox == self.box.name,
                    MailboxSyncState.folder == self.box.folder,
                )
                .values(
                    last_error=error[:4000],
                    consecutive_failures=MailboxSyncState.consecutive_failures + 1,
                )
                .execution_options(synchronize_session=False)
            )

    # --- fetch, store, acknowledge -------------------------------------------------------

    def _batches(self, imap: ImapSession, uids: list[int]) -> list[list[int]]:
        """Split UIDs into batches bounded by count and by bytes."""
        if not uids:
            return []
        sizes = imap.sizes(uids)
        batches: list[list[int]] = [[]]
        batch_bytes = 0
        for uid in uids:
            size = min(sizes.get(uid, 0), self.inbox.max_email_bytes)
            full = len(batches[-1]) >= self.inbox.fetch_batch
            if batches[-1] and (full or batch_bytes + size > MAX_FETCH_BYTES):
                batches.append([])
                batch_bytes = 0
            batches[-1].append(uid)
            batch_bytes += size
        return batches

    def _store_batch(
        self,
        imap: ImapSession,
        batch: list[int],
        uidvalidity: int,
        report: SyncReport,
        *,
        advance: bool,
    ) -> None:
        fetched = imap.fetch(batch, max_bytes=self.inbox.max_email_bytes)
        report.fetched += len(fetched)
        self.log.info("fetched", count=len(fetched), first_uid=batch[0], last_uid=batch[-1])
        with transaction(self.sessions) as session:
            for message in fetched:
                report.count(self._store(session, message, uidvalidity))
            if advance:
                self._advance(session, "last_uid", batch[-1], uidvalidity)
        # Committed: only now may the server mark them, and only the ones we hold a row for. A
        # UID the server did not return (expunged meanwhile, or an odd reply) stays untouched.
        stored = [message.uid for message in fetched]
        imap.acknowledge(stored)
        report.acknowledged += len(stored) if self.box.after_commit != "leave" else 0
        if advance:
            with transaction(self.sessions) as session:
                self._advance(session, "acked_uid", batch[-1], uidvalidity)
        self.log.info("committed", count=len(fetched), last_uid=batch[-1])

    def _store(self, session: Session, message: Fetched, uidvalidity: int) -> StoreResult:
        problem = None
        if message.headers_only:
            problem = (
                f"message of {message.size} bytes exceeds TIDINGS_INBOX__MAX_EMAIL_BYTES "
                f"({self.inbox.max_email_bytes}); only its header was fetched. It stays on "
                f"the server: folder {self.box.folder!r}, UIDVALIDITY {uidvalidity}, "
                f"UID {message.uid}"
            )
        return store_raw_email(
            session=session,
            mailbox=self.box.name,
            raw=message.raw,
            brand_id=self.brand_id,
            imap_uid=message.uid,
            uidvalidity=uidvalidity,
            problem=problem,
        )

    def _acknowledge_pending(self, imap: ImapSession, cursor: Cursor) -> int:
        """Flag or move what was committed before a crash but not acknowledged."""
        pending = [
            uid
            for uid in imap.uids_after(cursor.acked_uid)
            if uid <= cursor.last_uid  # committed ones only; newer mail is not stored yet
        ]
        imap.acknowledge(pending)
        with transaction(self.sessions) as session:
            self._advance(session, "acked_uid", cursor.last_uid, cursor.uidvalidity)
        self.log.info("acknowledged after restart", count=len(pending))
        return len(pending) if self.box.after_commit != "leave" else 0
