"""IMAP polling against a real Dovecot on loopback: every message ends as exactly one row, and
the server marks it seen (or moves it) only after its row is committed, through duplicates,
server restarts, a poller killed between fetch and commit, and a folder rebuilt under us."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, text
from sqlalchemy.engine import Engine

from tests.dovecot import Dovecot, make_email, new_user, require
from tidings.config.settings import InboxSettings, MailboxSettings
from tidings.errors import InboxError, MailboxLoginError, MailboxUnavailableError
from tidings.inbox.poll import MailboxPoller
from tidings.store.db import SessionFactory
from tidings.store.enums import EmailState
from tidings.store.models import InboundEmail, MailboxSyncState

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    """One private Dovecot for this module; each test uses its own user (mailbox)."""
    require()
    with Dovecot() as server:
        yield server


def rows_by_message_id(sessions: SessionFactory, mailbox: str) -> dict[str | None, int]:
    """How many rows each Message-ID has in a mailbox."""
    with sessions() as session:
        found = session.execute(
            select(InboundEmail.message_id, func.count())
            .where(InboundEmail.mailbox == mailbox)
            .group_by(InboundEmail.message_id)
        ).all()
    return {message_id: count for message_id, count in found}


def assert_seen_only_if_committed(
    server: Dovecot, user: str, sessions: SessionFactory, mailbox: str
) -> None:
    """Every message the server shows as seen has its row committed. Reads the server first,
    then the database, so a row committed after the flag read still counts as it should."""
    flags = server.flags(user)
    committed = rows_by_message_id(sessions, mailbox)
    seen_without_row = [m for seen, m in flags.values() if seen and m not in committed]
    assert seen_without_row == []


def poller(
    server: Dovecot,
    box: MailboxSettings,
    sessions: SessionFactory,
    inbox: InboxSettings | None = None,
    **kwargs: object,
) -> MailboxPoller:
    """A poller on this server's mailbox with test-friendly settings."""
    return MailboxPoller(
        mailbox=box,
        inbox=inbox or server.inbox_settings(),
        session_factory=sessions,
        **kwargs,  # type: ignore[arg-type]
    )


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``condition`` until true or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


class TestPollOnce:
    def test_new_mail_becomes_rows_and_is_flagged_seen(
        self, dovecot: Dovecot, sessions: SessionFactory
    ) -> None:
        """Each delivered message is one committed row, then flagged seen on the server."""
        user = new_user()
        dovecot.deliver(user, [make_email(i) for i in range(5)])
        box = dovecot.mailbox(user)
        report = poller(dovecot, box, sessions).poll_once()
        assert (report.fetched, report.imported, report.acknowledged) == (5, 5, 5)
        assert rows_by_message_id(sessions, box.name) == {f"m{i}@test": 1 for i in range(5)}
        assert all(seen for seen, _ in dovecot.flags(user).values())
        with sessions() as session:
            rows = session.scalars(select(InboundEmail)).all()
        assert {r.state for r in rows} == {EmailState.RECEIVED}
        assert sorted(r.imap_uid for r in rows) == [1, 2, 3, 4, 5]

    def test_restart_resumes_after_the_last_commit(
        self, dovecot: Dovecot, sessions: SessionFactory
    ) -> None:
        """A second poll fetches only what arrived since the first: the UID cursor persists."""
        user = new_user()
        box = dovecot.mailbox(user)
        dovecot.deliver(user, [make_email(i) for i in range(3)])
        assert poller(dovecot, box, sessions).poll_once().fetched == 3
        dovecot.deliver(user, [make_email(i) for i in range(3, 5)])
        second = poller(dovecot, box, sessions).poll_once()
        assert (second.fetched, second.imported) == (2, 2)
        assert poller(dovecot, box, sessions).poll_once().fetched == 0
        with sessions() as session:
            state = session.scalars(select(MailboxSyncState)).one()
        assert (state.last_uid, state.acked_uid) == (5, 5)

    def test_duplicate_deliveries_are_one_row_and_all_seen(
        self, dovecot: Dovecot, sessions: SessionFactory
    ) -> None:
        """The same email delivered three times (other trace headers) is stored once; every copy
        is marked seen after that row exists."""
        user = new_user()
        box = dovecot.mailbox(user)
        original = make_email(7)
        copies = [original, b"Received: from mx2\r\n" + original, b"Received: x\r\n" + original]
        dovecot.deliver(user, copies[:2])
        poller(dovecot, box, sessions).poll_once()
        dovecot.deliver(user, copies[2:])
        report = poller(dovecot, box, sessions).poll_once()
        assert report.duplicates == 1
        assert rows_by_message_id(sessions, box.name) == {"m7@test": 1}
        assert [seen for seen, _ in dovecot.flags(user).values()] == [True, True, True]

    def test_leave_mode_marks_nothing(self, dovecot: Dovecot, sessions: SessionFactory) -> None:
        """after_commit=leave stores mail without touching its flags."""
        user = new_user()
        box = dovecot.mailbox(user, after_commit="leave")
        dovecot.deliver(user, [make_email(1), make_email(2)])
        assert poller(dovecot, box, sessions).poll_once().imported == 2
        assert [seen for seen, _ in dovecot.flags(user).values()] == [False, False]
        assert poller(dovecot, box, sessions).poll_once().fetched == 0

    def test_move_mode_moves_after_commit(self, dovecot: Dovecot, sessions: SessionFactory) -> None:
        """after_commit=move empties the folder into the processed folder, rows committed."""
        user = new_user()
        box = dovecot.mailbox(user, after_commit="move", move_to="Tidings/Processed")
        dovecot.deliver(user, [make_email(i) for i in range(4)])
        assert poller(dovecot, box, sessions).poll_once().imported == 4
        assert dovecot.flags(user) == {}
        moved = dovecot.flags(user, "Tidings/Processed")
        assert sorted(m for _, m in moved.values() if m) == [f"m{i}@test" for i in range(4)]

    @pytest.mark.parametrize("security", ["tls", "starttls"])
    def test_tls_and_starttls_verify_the_certificate(
        self, dovecot: Dovecot, sessions: SessionFactory, security: str
    ) -> None:
        """Implicit TLS and STARTTLS both work when the server's CA is trusted."""
        user = new_user()
        dovecot.deliver(user, [make_email(1)])
        box = dovecot.mailbox(user, security=security)
        assert poller(dovecot, box, sessions).poll_once().imported == 1

    def test_untrusted_certificate_is_refused_with_the_fix(
        self, dovecot: Dovecot, sessions: SessionFactory
    ) -> None:
        """Without the CA file, TLS fails and the error says which setting fixes it."""
        box = dovecot.mailbox(security="tls")
        with pytest.raises(MailboxUnavailableError, match="TIDINGS_INBOX__TLS_CA_FILE"):
            poller(dovecot, box, sessions, dovecot.inbox_settings(tls_ca_file=None)).poll_once()

    def test_bad_password_is_a_clear_permanent_error(
        self, dovecot: Dovecot, sessions: SessionFactory
    ) -> None:
        """Refused credentials raise MailboxLoginError naming the mailbox and the fix."""
        box = dovecot.mailbox(password="wrong")
        with pytest.raises(MailboxLoginError, match=r"refused the login.*TIDINGS_MAILBOXES"):
            poller(dovecot, box, sessions).poll_once()

    def test_missing_folder_names_the_setting(
        self, dovecot: Dovecot, sessions: SessionFactory
    ) -> None:
        """A folder that does not exist is a permanent error naming `folder`."""
        box = dovecot.mailbox(folder="NoSuchFolder")
        with pytest.raises(InboxError, match="check `folder`"):
            poller(dovecot, box, sessions).poll_once()

    def test_server_down_is_transient(self, sessions: SessionFactory) -> None:
        """Nothing listening: MailboxUnavailableError, which the poller retries."""
        require()
        with Dovecot() as server:
            box = server.mailbox()
            inbox = server.inbox_settings(tls_ca_file=None)
        with pytest.raises(MailboxUnavailableError, match="unreachable"):
            poller(server, box, sessions, inbox).poll_once()

    def test_oversized_message_is_quarantined_with_its_headers(
        self, dovecot: Dovecot, sessions: SessionFactory
    ) -> None:
        """A message above max_email_bytes is not downloaded: its header is stored as a
        quarantined row that says where the full message is."""
        user = new_user()
        big = make_email(1, body="x" * 40_000)
        dovecot.deliver(user, [big, make_email(2)])
        inbox = dovecot.inbox_settings(max_email_bytes=10_000)
        report = poller(dovecot, dovecot.mailbox(user), sessions, inbox).poll_once()
        assert (report.imported, report.quarantined) == (1, 1)
        with sessions() as session:
            row = session.scalars(
                select(InboundEmail).where(InboundEmail.state == EmailState.QUARANTINED)
            ).one()
            raw = row.raw  # loaded on use (deferred)
        assert row.message_id == "m1@test" and len(raw) < 1_000
        assert "only its header was fetched" in (row.last_error or "")
        assert "UID 1" in (row.last_error or "")

    def test_first_sync_skips_old_mail_and_backfill_fetches_it(
        self, dovecot: Dovecot, sessions: SessionFactory
    ) -> None:
        """A new mailbox starts at recent mail; `backfill --since` brings in older mail."""
        user = new_user()
        with dovecot.client(user) as client:
            client.append("INBOX", make_email(1), msg_time=_days_ago(60))
            client.append("INBOX", make_email(2), msg_time=_days_ago(1))
        box = dovecot.mailbox(user)
        first = poller(dovecot, box, sessions).poll_once()
        assert (first.fetched, first.imported) == (1, 1)
        back = poller(dovecot, box, sessions).backfill(_days_ago(90).date())
        assert (back.fetched, back.imported, back.duplicates) == (2, 1, 1)
        assert rows_by_message_id(sessions, box.name) == {"m1@test": 1, "m2@test": 1}
        assert all(seen for seen, _ in dovecot.flags(user).values())

    def test_uidvalidity_change_rescans_without_duplicates(
        self, dovecot: Dovecot, sessions: SessionFactory
    ) -> None:
        """The folder is deleted and rebuilt (new UIDVALIDITY, UIDs restart): the poller notices,
        rescans, stores only what is new and marks everything seen."""
        user = new_user()
        box = dovecot.mailbox(user, folder="Support")
        dovecot.deliver(user, [make_email(1), make_email(2)], folder="Support")
        poller(dovecot, box, sessions).poll_once()
        with dovecot.client(user) as client:
            client.delete_folder("Support")
        dovecot.deliver(user, [make_email(1), make_email(2), make_email(3)], folder="Support")
        report = poller(dovecot, box, sessions).poll_once()
        assert report.uidvalidity_reset
        assert (report.imported, report.duplicates) == (1, 2)
        assert rows_by_message_id(sessions, box.name) == {f"m{i}@test": 1 for i in (1, 2, 3)}
        assert all(seen for seen, _ in dovecot.flags(user, "Support").values())


def _days_ago(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


class TestLongRunningPoller:
    def test_idle_wakes_on_new_mail(self, dovecot: Dovecot, sessions: SessionFactory) -> None:
        """With IDLE, mail delivered while waiting is stored within seconds, not after the
        (here: one hour) poll interval."""
        user = new_user()
        box = dovecot.mailbox(user)
        inbox = dovecot.inbox_settings(poll_interval_seconds=3600, idle_refresh_seconds=600)
        runner = poller(dovecot, box, sessions, inbox)
        thread = threading.Thread(target=runner.run, daemon=True)
        thread.start()
        try:
            wait_for(lambda: _state_exists(sessions, box.name))
            dovecot.deliver(user, [make_email(1)])
            wait_for(lambda: rows_by_message_id(sessions, box.name) == {"m1@test": 1}, 10)
        finally:
            runner.stop.set()
            thread.join(10)
        assert not thread.is_alive()

    def test_polling_without_idle(self, dovecot: Dovecot, sessions: SessionFactory) -> None:
        """With IDLE off, the poller checks on its interval and still gets the mail."""
        user = new_user()
        box = dovecot.mailbox(user)
        inbox = dovecot.inbox_settings(idle=False, poll_interval_seconds=0.3)
        runner = poller(dovecot, box, sessions, inbox)
        thread = threading.Thread(target=runner.run, daemon=True)
        thread.start()
        try:
            wait_for(lambda: _state_exists(sessions, box.name))
            dovecot.deliver(user, [make_email(1), make_email(2)])
            wait_for(lambda: len(rows_by_message_id(sessions, box.name)) == 2)
        finally:
            runner.stop.set()
            thread.join(10)

    def test_bad_credentials_stop_the_mailbox(
        self, dovecot: Dovecot, sessions: SessionFactory
    ) -> None:
        """run() returns with the login error instead of retrying a wrong password forever."""
        box = dovecot.mailbox(password="wrong")
        outcome = poller(dovecot, box, sessions).run()
        assert outcome.error is not None and "refused the login" in outcome.error

    def test_dovecot_restarts_mid_poll(self, sessions: SessionFactory) -> None:
        """Dovecot is killed while batches are being fetched and committed, stays down a
        while, comes back; the poller reconnects with backoff, and in the end every message is
        exactly one row and seen. Throughout, nothing is seen without its committed row."""
        require()
        with Dovecot() as server:
            user = new_user()
            box = server.mailbox(user)
            server.deliver(user, [make_email(i) for i in range(800)])
            inbox = server.inbox_settings(fetch_batch=20)
            runner = poller(server, box, sessions, inbox)
            thread = threading.Thread(target=runner.run, daemon=True)
            thread.start()
            try:
                wait_for(lambda: len(rows_by_message_id(sessions, box.name)) > 0)
                server.stop(kill=True)  # mid-poll: some batches are committed, the rest not
                stored_while_down = len(rows_by_message_id(sessions, box.name))
                # The poller keeps trying with backoff and records the outage on the folder.
                wait_for(lambda: (_failures(sessions, box.name) or (0, ""))[0] >= 2)
                _, error = _failures(sessions, box.name) or (0, "")
                assert "unreachable" in error
                server.start()
                server.deliver(user, [make_email(i) for i in range(800, 820)])
                assert_seen_only_if_committed(server, user, sessions, box.name)
                wait_for(lambda: len(rows_by_message_id(sessions, box.name)) == 820, 120)
                wait_for(lambda: all(s for s, _ in server.flags(user).values()), 20)
            finally:
                runner.stop.set()
                thread.join(15)
            assert 0 < stored_while_down < 800  # it really was stopped mid-poll
            counts = rows_by_message_id(sessions, box.name)
            assert set(counts.values()) == {1} and len(counts) == 820
            assert _failures(sessions, box.name) == (0, None)  # the outage is cleared


def _failures(sessions: SessionFactory, mailbox: str) -> tuple[int, str | None] | None:
    with sessions() as session:
        row = session.execute(
            select(MailboxSyncState.consecutive_failures, MailboxSyncState.last_error).where(
                MailboxSyncState.mailbox == mailbox
            )
        ).one_or_none()
    return (row[0], row[1]) if row else None


def _polled(sessions: SessionFactory, mailbox: str) -> bool:
    with sessions() as session:
        return (
            session.scalar(
                select(MailboxSyncState.last_polled_at).where(MailboxSyncState.mailbox == mailbox)
            )
            is not None
        )


def _state_exists(sessions: SessionFactory, mailbox: str) -> bool:
    with sessions() as session:
        return (
            session.scalar(select(MailboxSyncState.id).where(MailboxSyncState.mailbox == mailbox))
            is not None
        )


class TestKilledPoller:
    """The poller runs as a real process (``tidings inbox poll``) and is SIGKILLed."""

    def _env(self, server: Dovecot, box: MailboxSettings, db_url: str) -> dict[str, str]:
        mailbox = box.model_dump(mode="json")
        mailbox["password"] = box.password.get_secret_value()
        return {
            **os.environ,
            "TIDINGS_DATABASE_URL": db_url,
            "TIDINGS_MAILBOXES": json.dumps([mailbox]),
            "TIDINGS_INBOX__TLS_CA_FILE": str(server.ca_file),
            "TIDINGS_INBOX__FETCH_BATCH": "50",
            "TIDINGS_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }

    def test_killed_between_fetch_and_commit(
        self,
        dovecot: Dovecot,
        sessions: SessionFactory,
        engine: Engine,
        db_url: str,
        backend: str,
    ) -> None:
        """The poller process is idling; the test takes the database's write lock and delivers
        mail, so the poller fetches a batch and then blocks inside its commit; it is killed
        right there. Nothing is seen on the server and no row exists; a restarted poller stores
        every message once and marks them all seen."""
        user = new_user()
        box = dovecot.mailbox(user)
        process = subprocess.Popen(
            [sys.executable, "-m", "tidings", "inbox", "poll"],
            cwd=ROOT,
            env=self._env(dovecot, box, db_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(lambda: _polled(sessions, box.name))  # first sync done: now idling
            with engine.connect() as lock:
                _take_write_lock(lock, backend)
                dovecot.deliver(user, [make_email(i) for i in range(30)])
                _wait_for_line(process, "fetched")
                time.sleep(0.5)  # the poller is now blocked on the lock, inside its commit
                assert process.poll() is None
                assert [seen for seen, _ in dovecot.flags(user).values()] == [False] * 30
                process.send_signal(signal.SIGKILL)
                process.wait(10)
                lock.rollback()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        assert rows_by_message_id(sessions, box.name) == {}
        assert not any(seen for seen, _ in dovecot.flags(user).values())
        report = poller(dovecot, box, sessions).poll_once()
        assert (report.fetched, report.imported) == (30, 30)
        assert rows_by_message_id(sessions, box.name) == {f"m{i}@test": 1 for i in range(30)}
        assert all(seen for seen, _ in dovecot.flags(user).values())

    def test_killed_after_commit_before_flagging(
        self, dovecot: Dovecot, sessions: SessionFactory
    ) -> None:
        """Rows committed but the process died before flagging (simulated by moving the ack
        cursor back): the next poll flags exactly those, fetches nothing twice."""
        user = new_user()
        box = dovecot.mailbox(user, after_commit="leave")
        dovecot.deliver(user, [make_email(i) for i in range(6)])
        poller(dovecot, box, sessions).poll_once()  # committed, nothing flagged ("leave")
        with sessions() as session, session.begin():
            state = session.scalars(select(MailboxSyncState)).one()
            state.acked_uid = 2  # as if the process died after committing UIDs 3..6
        flag_box = dovecot.mailbox(user, after_commit="flag")
        report = poller(dovecot, flag_box, sessions).poll_once()
        assert (report.fetched, report.acknowledged) == (0, 4)
        flags = dovecot.flags(user)
        assert [flags[uid][0] for uid in sorted(flags)] == [False, False, True, True, True, True]

    @pytest.mark.slow
    def test_random_sigkills_never_lose_or_duplicate(
        self, dovecot: Dovecot, sessions: SessionFactory, db_url: str
    ) -> None:
        """Ten runs of the real poller process, each SIGKILLed at a random moment, with mail
        arriving in between: afterwards every message is one row and seen, and at every kill
        nothing was seen without its row."""
        user = new_user()
        box = dovecot.mailbox(user)
        env = {**self._env(dovecot, box, db_url), "TIDINGS_INBOX__FETCH_BATCH": "7"}
        rng = random.Random(3)
        delivered = 0
        for _ in range(10):
            dovecot.deliver(user, [make_email(i) for i in range(delivered, delivered + 40)])
            delivered += 40
            process = subprocess.Popen(
                [sys.executable, "-m", "tidings", "inbox", "poll"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.8, 2.5))
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            assert_seen_only_if_committed(dovecot, user, sessions, box.name)
        poller(dovecot, box, sessions).poll_once()
        counts = rows_by_message_id(sessions, box.name)
        assert len(counts) == delivered and set(counts.values()) == {1}
        assert all(seen for seen, _ in dovecot.flags(user).values())


def _take_write_lock(connection: Connection, backend: str) -> None:
    """Block every writer: SQLite's write lock, or an EXCLUSIVE lock on inbound_emails (reads
    still pass, as they do on SQLite in WAL mode)."""
    if backend == "sqlite":
        connection.exec_driver_sql("COMMIT")  # leave the implicit BEGIN IMMEDIATE's transaction
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.execute(text("LOCK TABLE inbound_emails IN EXCLUSIVE MODE"))


def _wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float = 60) -> None:
    """Read the process's output until a line contains ``needle``."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("poller exited early:\n" + "".join(seen))
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} not printed within {timeout} s:\n" + "".join(seen))
