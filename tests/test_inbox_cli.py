"""``tidings inbox poll | backfill | retry | status`` as a user runs them: real processes, a real
Dovecot, the test's database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.dovecot import Dovecot, make_email, new_user, require
from tidings.config.settings import MailboxSettings
from tidings.inbox.poll import MailboxPoller
from tidings.inbox.store import store_raw_email
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import EmailState
from tidings.store.models import InboundEmail

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    """One private Dovecot for this module."""
    require()
    with Dovecot() as server:
        yield server


def tidings(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI like a user would."""
    return subprocess.run(
        [sys.executable, "-m", "tidings", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=120,
    )


def environment(server: Dovecot, db_url: str, *boxes: MailboxSettings) -> dict[str, str]:
    """TIDINGS_* variables for these mailboxes on this server and the test database."""
    mailboxes = []
    for box in boxes:
        values = box.model_dump(mode="json")
        values["password"] = box.password.get_secret_value()
        mailboxes.append(values)
    return {
        "TIDINGS_DATABASE_URL": db_url,
        "TIDINGS_MAILBOXES": json.dumps(mailboxes),
        "TIDINGS_INBOX__TLS_CA_FILE": str(server.ca_file),
    }


def last_json(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    """The last output line, which --json makes one JSON object."""
    assert result.returncode == 0, result.stderr + result.stdout
    parsed: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


class TestInboxCommands:
    def test_poll_once_json_counts_two_mailboxes(
        self, dovecot: Dovecot, db_url: str, sessions: SessionFactory
    ) -> None:
        """`poll --once --json` syncs every configured mailbox and ends with one JSON line."""
        first, second = new_user(), new_user()
        dovecot.deliver(first, [make_email(1), make_email(2)])
        dovecot.deliver(second, [make_email(3)])
        env = environment(
            dovecot, db_url, dovecot.mailbox(first), dovecot.mailbox(second, security="tls")
        )
        counts = last_json(tidings("inbox", "poll", "--once", "--json", env=env))
        assert counts["imported"] == 3 and counts["acknowledged"] == 3
        with sessions() as session:
            assert len(session.scalars(select(InboundEmail.id)).all()) == 3
        assert all(seen for seen, _ in dovecot.flags(first).values())

    def test_backfill_since_a_day_then_status(
        self, dovecot: Dovecot, db_url: str, sessions: SessionFactory
    ) -> None:
        """`backfill --since` stores older mail the first sync skipped; `status --json` then
        shows the folder's cursor."""
        user = new_user()
        with dovecot.client(user) as client:
            client.append("INBOX", make_email(1), msg_time=datetime.now(UTC) - timedelta(days=40))
        box = dovecot.mailbox(user)
        env = environment(dovecot, db_url, box)
        first = MailboxPoller(mailbox=box, inbox=dovecot.inbox_settings(), session_factory=sessions)
        assert first.poll_once().fetched == 0
        since = (datetime.now(UTC) - timedelta(days=60)).date().isoformat()
        counts = last_json(tidings("inbox", "backfill", "--since", since, "--json", env=env))
        assert counts["imported"] == 1
        status = last_json(tidings("inbox", "status", "--json", env=env))
        assert status["mailbox"] == box.name and status["last_uid"] == status["acked_uid"] == 1

    def test_errors_name_the_fix(self, dovecot: Dovecot, db_url: str) -> None:
        """Bad credentials (once or polling forever) and an unknown mailbox exit 2 with a
        one-line fix."""
        box = dovecot.mailbox(password="wrong")
        env = environment(dovecot, db_url, box)
        refused = tidings("inbox", "poll", "--once", env=env)
        assert refused.returncode == 2 and "TIDINGS_MAILBOXES" in refused.stderr
        unknown = tidings("inbox", "poll", "--once", "--mailbox", "nope", env=env)
        assert unknown.returncode == 2 and "unknown mailbox nope" in unknown.stderr
        forever = tidings("inbox", "poll", env=env)  # long-running: stops on the login error
        assert forever.returncode == 2 and "refused the login" in forever.stderr


class TestRetry:
    def test_retry_reparses_quarantined_emails(self, db_url: str, sessions: SessionFactory) -> None:
        """`retry` puts quarantined rows back through parsing: readable ones become parsed,
        unreadable ones are quarantined again with their reason."""
        with transaction(sessions) as session:
            good = store_raw_email(session=session, mailbox="m", raw=make_email(1)).email_id
            bad = store_raw_email(session=session, mailbox="m", raw=b"no headers at all").email_id
            for row in session.scalars(select(InboundEmail)):
                row.state = EmailState.QUARANTINED
                row.last_error = "InboxError: from an older parser"
        counts = last_json(
            tidings("inbox", "retry", "--json", env={"TIDINGS_DATABASE_URL": db_url})
        )
        assert counts == {"retried": 2, "parsed": 1, "quarantined": 1}
        with sessions() as session:
            assert session.get(InboundEmail, good).state is EmailState.PARSED  # type: ignore[union-attr]
            again = session.get(InboundEmail, bad)
        assert again is not None and "no headers" in (again.last_error or "")
