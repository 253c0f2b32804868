"""Storing raw emails: once per mailbox and Message-ID, content hash as the fallback."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from tidings.inbox.import_files import email_files, import_files
from tidings.inbox.store import content_hash, store_raw_email
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import EmailState
from tidings.store.models import InboundEmail

SAMPLES = Path(__file__).resolve().parent.parent / "tidings" / "demo" / "emails"


def _mail(
    message_id: str | None, body: str = "Where is my order KAP-240311?", received: str = ""
) -> bytes:
    headers = received
    if message_id:
        headers += f"Message-ID: <{message_id}>\r\n"
    headers += "From: Asha <asha@example.in>\r\nTo: support@kapas.example\r\nSubject: order\r\n"
    return f"{headers}\r\n{body}\r\n".encode()


def _store(sessions: SessionFactory, raw: bytes, mailbox: str = "kapas-support") -> str:
    with transaction(sessions) as session:
        return store_raw_email(session=session, mailbox=mailbox, raw=raw).outcome


def _count(sessions: SessionFactory) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(InboundEmail)) or 0)


class TestStoreRawEmail:
    def test_same_message_twice_is_one_row(self, sessions: SessionFactory) -> None:
        """A redelivered email is a duplicate, even with different trace headers."""
        assert (
            _store(sessions, _mail("a1@mail.example", received="Received: from a\r\n"))
            == "imported"
        )
        again = _mail("a1@mail.example", received="Received: from b\r\n by c\r\n")
        assert _store(sessions, again) == "duplicate"
        assert _count(sessions) == 1

    def test_reused_message_id_with_other_content_is_kept(self, sessions: SessionFactory) -> None:
        """A broken mailer reusing a Message-ID does not make us drop a different email."""
        assert _store(sessions, _mail("same@mail.example", body="first")) == "imported"
        assert _store(sessions, _mail("same@mail.example", body="second")) == "imported"
        assert _store(sessions, _mail("same@mail.example", body="second")) == "duplicate"
        assert _count(sessions) == 2

    def test_missing_message_id_dedupes_on_content(self, sessions: SessionFactory) -> None:
        """Without a Message-ID the content hash is the key."""
        assert _store(sessions, _mail(None)) == "imported"
        assert _store(sessions, _mail(None)) == "duplicate"
        assert _store(sessions, _mail(None, body="another")) == "imported"

    def test_empty_message_is_quarantined_not_lost(self, sessions: SessionFactory) -> None:
        """An empty file becomes a quarantined row with a readable reason."""
        assert _store(sessions, b"") == "quarantined"
        with sessions() as session:
            row = session.scalars(select(InboundEmail)).one()
        assert row.state is EmailState.QUARANTINED and "empty" in (row.last_error or "")

    def test_trace_headers_do_not_change_the_hash(self) -> None:
        """Received lines (folded or not) are left out of the content hash."""
        plain = _mail("x@y")
        traced = _mail("x@y", received="Received: from mx1\r\n\tby mx2; Mon, 1 Dec 2026\r\n")
        assert content_hash(plain) == content_hash(traced)
        assert content_hash(plain) != content_hash(_mail("x@y", body="changed"))


class TestImportFiles:
    def test_samples_import_once(self, sessions: SessionFactory) -> None:
        """Every bundled sample is stored; a second import finds only duplicates."""
        files = email_files(SAMPLES / "kapas-support")
        first = import_files(session_factory=sessions, files=files, mailbox="kapas-support")
        second = import_files(session_factory=sessions, files=files, mailbox="kapas-support")
        assert first.imported == len(files) > 5
        assert second.as_dict() == {"imported": 0, "duplicates": len(files), "quarantined": 0}

    def test_maildir_layout(self, sessions: SessionFactory, tmp_path: Path) -> None:
        """Files in a Maildir's cur/ and new/ are emails even without a .eml suffix."""
        for sub in ("cur", "new", "tmp"):
            (tmp_path / sub).mkdir()
        (tmp_path / "new" / "1700000000.M1.host").write_bytes(_mail("m1@x"))
        (tmp_path / "cur" / "1700000001.M2.host:2,S").write_bytes(_mail("m2@x"))
        (tmp_path / "tmp" / "partial").write_bytes(b"half-written")
        files = email_files(tmp_path)
        assert len(files) == 2
        report = import_files(session_factory=sessions, files=files, mailbox="m")
        assert report.imported == 2
