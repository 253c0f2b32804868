"""Poll IMAP mailboxes: IDLE where the server offers it, a timer otherwise; reconnect forever.

One thread per mailbox, because an IDLE connection blocks. A dropped connection, a server
restart or a database outage only pauses a mailbox: it reconnects with exponential backoff and
jitter, and the UID cursor (see ``sync.py``) resumes exactly where the last commit left off.
Refused credentials or a missing folder stop that mailbox with an error that names the fix;
the other mailboxes carry on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.exc import DBAPIError

from tidings.config.settings import InboxSettings, MailboxSettings
from tidings.errors import ConfigError, InboxError, MailboxUnavailableError, StorageError
from tidings.inbox.imap import ImapSession
from tidings.inbox.sync import FolderSync, SyncReport
from tidings.logs import get_logger
from tidings.store.db import SessionFactory
from tidings.store.lease import RetryPolicy

log = get_logger(__name__)

# What a reconnect can heal: the network, the IMAP server, the database.
TRANSIENT = (MailboxUnavailableError, StorageError, DBAPIError)


@dataclass
class PollOutcome:
    """How one mailbox's polling ended."""

    mailbox: str
    report: SyncReport = field(default_factory=SyncReport)
    error: str | None = None


class MailboxPoller:
    """Polls one mailbox until stopped."""

    def __init__(
        self,
        *,
        mailbox: MailboxSettings,
        inbox: InboxSettings,
        session_factory: SessionFactory,
        brand_id: int | None = None,
        stop: threading.Event | None = None,
        on_sync: Callable[[SyncReport], None] | None = None,
    ) -> None:
        self.box = mailbox
        self.inbox = inbox
        self.folder = FolderSync(
            mailbox=mailbox, inbox=inbox, session_factory=session_factory, brand_id=brand_id
        )
        self.stop = stop or threading.Event()
        self.on_sync = on_sync
        self.backoff = RetryPolicy(
            base_seconds=inbox.reconnect_initial_seconds, cap_seconds=inbox.reconnect_max_seconds
        )
        self.log = log.bind(mailbox=mailbox.name)

    @contextmanager
    def session(self) -> Iterator[ImapSession]:
        """A logged-in IMAP session, closed afterwards."""
        imap = ImapSession.open(self.box, self.inbox)
        try:
            yield imap
        finally:
            imap.close()

    def poll_once(self) -> SyncReport:
        """Connect, sync once, disconnect."""
        with self.session() as imap:
            return self.folder.sync(imap)

    def backfill(self, since: date) -> SyncReport:
        """Connect, store everything since ``since``, disconnect."""
        with self.session() as imap:
            return self.folder.backfill(imap, since)

    def run(self) -> PollOutcome:
        """Sync, wait for mail, sync again... until ``stop`` is set or a permanent error."""
        outcome = PollOutcome(self.box.name)
        failures = 0
        self.log.info("polling", host=self.box.host, folder=self.box.folder)
        while not self.stop.is_set():
            try:
                self._connected_loop(outcome)
                failures = 0
            except TRANSIENT as exc:
                failures += 1
                delay = self.backoff.delay(failures).total_seconds()
                self.log.warning("mailbox unavailable; retrying", error=str(exc), in_s=delay)
                self._record(str(exc))
                self.stop.wait(delay)
            except (InboxError, ConfigError) as exc:
                self.log.error("mailbox stopped", error=str(exc))
                self._record(str(exc))
                outcome.error = str(exc)
                break
            except Exception as exc:  # a bug must not stop the inbox: log it, back off, retry
                failures += 1
                self.log.exception("poll failed unexpectedly; retrying", error=repr(exc))
                self._record(repr(exc))
                self.stop.wait(self.backoff.delay(failures).total_seconds())
        return outcome

    def _connected_loop(self, outcome: PollOutcome) -> None:
        with self.session() as imap:
            use_idle = self.inbox.idle and imap.supports_idle
            while not self.stop.is_set():
                report = self.folder.sync(imap)
                outcome.report.add(report)
                if self.on_sync:
                    self.on_sync(report)
                if use_idle:
                    imap.wait_for_mail(self.inbox.idle_refresh_seconds, self.stop)
                elif not self.stop.wait(self.inbox.poll_interval_seconds):
                    imap.noop()

    def _record(self, error: str) -> None:
        # When the database is what failed, the log line already has the error.
        with suppress(*TRANSIENT):
            self.folder.record_failure(error)


def run_pollers(pollers: list[MailboxPoller]) -> list[PollOutcome]:
    """Run every poller in its own thread until all have stopped; return how each ended."""
    outcomes: dict[str, PollOutcome] = {}

    def work(poller: MailboxPoller) -> None:
        outcomes[poller.box.name] = poller.run()

    threads = [
        threading.Thread(target=work, args=(p,), name=f"poll-{p.box.name}", daemon=True)
        for p in pollers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [outcomes.get(p.box.name, PollOutcome(p.box.name, error="crashed")) for p in pollers]
