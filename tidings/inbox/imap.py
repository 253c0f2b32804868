"""One IMAP session on one mailbox folder, with errors that say what to do.

Thin over ``imapclient``: connect with TLS, STARTTLS or (loopback only, sensibly) plain; fetch
with ``BODY.PEEK[]`` so reading never marks a message ``\\Seen``; flag or move only when told to
(after the row is committed, see ``sync.py``); wait for new mail with IDLE. Network failures
become ``MailboxUnavailableError`` (the poller reconnects with backoff), refused credentials
``MailboxLoginError``, and a missing folder a plain ``InboxError``.
"""

from __future__ import annotations

import imaplib
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date
from typing import Any, NamedTuple

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SocketTimeout

from tidings.config.settings import InboxSettings, MailboxSettings
from tidings.errors import ConfigError, InboxError, MailboxLoginError, MailboxUnavailableError
from tidings.logs import get_logger

log = get_logger(__name__)
SEEN = b"\\Seen"
# Bytes asked for in one FETCH: enough to amortise round trips, small enough for memory.
MAX_FETCH_BYTES = 32 * 1024 * 1024


class FolderStatus(NamedTuple):
    """What SELECT says about the folder."""

    uidvalidity: int
    uidnext: int
    exists: int


class Fetched(NamedTuple):
    """One message as fetched: its raw bytes, or only its header when it was too big."""

    uid: int
    raw: bytes
    size: int
    headers_only: bool = False


@contextmanager
def network(box: MailboxSettings) -> Iterator[None]:
    """Translate socket, TLS and IMAP protocol failures into Tidings' inbox errors."""
    where = f"{box.host}:{box.port}"
    try:
        yield
    except LoginError as exc:
        raise MailboxLoginError(
            f"IMAP server {where} refused the login of {box.username!r} for mailbox "
            f"{box.name} ({_text(exc)}): check its username and password in TIDINGS_MAILBOXES"
        ) from exc
    except ssl.SSLCertVerificationError as exc:
        raise MailboxUnavailableError(
            f"TLS certificate of {where} not trusted ({exc.verify_message}): fix the server's "
            "certificate or set TIDINGS_INBOX__TLS_CA_FILE to the CA that signed it"
        ) from exc
    except (OSError, imaplib.IMAP4.abort, EOFError) as exc:  # OSError covers socket, TLS, timeout
        raise MailboxUnavailableError(f"IMAP server {where} unreachable: {_text(exc)}") from exc


def _text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return str(exc)
    message = exc.args[0] if exc.args else exc
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    # imapclient wraps server replies as "b'...'" strings; show the reply itself.
    if text.startswith(("b'", 'b"')) and text[-1:] in ("'", '"'):
        text = text[2:-1]
    return text


def tls_context(inbox: InboxSettings) -> ssl.SSLContext:
    """Verifying TLS context: system CAs plus ``tls_ca_file`` when set."""
    context = ssl.create_default_context()
    if inbox.tls_ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(inbox.tls_ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"TIDINGS_INBOX__TLS_CA_FILE {inbox.tls_ca_file} is not a readable PEM "
                f"certificate file ({exc}): point it at the CA that signed the IMAP server"
            ) from exc
    return context


class ImapSession:
    """A logged-in IMAP connection with one folder selected."""

    def __init__(self, client: IMAPClient, box: MailboxSettings) -> None:
        self.client = client
        self.box = box

    @classmethod
    def open(cls, box: MailboxSettings, inbox: InboxSettings) -> ImapSession:
        """Connect, secure, log in and select ``box.folder``."""
        if box.security == "none" and box.host not in ("127.0.0.1", "::1", "localhost"):
            log.warning(
                "IMAP without TLS: the password crosses the network in clear", host=box.host
            )
        timeout = SocketTimeout(connect=inbox.timeout_seconds, read=inbox.timeout_seconds)
        context = tls_context(inbox)
        with network(box):
            client = IMAPClient(
                box.host,
                port=box.port,
                ssl=box.security == "tls",
                ssl_context=context if box.security == "tls" else None,
                timeout=timeout,
            )
            try:
                if box.security == "starttls":
                    client.starttls(context)
                client.login(box.username, box.password.get_secret_value())
            except BaseException:
                _close_quietly(client)
                raise
        session = cls(client, box)
        if box.after_commit == "move":
            session.ensure_folder(box.move_to)
        return session

    def close(self) -> None:
        """Log out; a connection that is already gone is fine."""
        _close_quietly(self.client)

    def select(self) -> FolderStatus:
        """(Re-)select the folder read-write; raises ``InboxError`` if it does not exist."""
        with network(self.box):
            try:
                info = self.client.select_folder(self.box.folder)
            except IMAPClientError as exc:
                if isinstance(exc, imaplib.IMAP4.abort):
                    raise
                raise InboxError(
                    f"cannot open folder {self.box.folder!r} of mailbox {self.box.name} on "
                    f"{self.box.host} ({_text(exc)}): check `folder` in TIDINGS_MAILBOXES"
                ) from exc
        return FolderStatus(
            uidvalidity=int(info[b"UIDVALIDITY"]),
            uidnext=int(info.get(b"UIDNEXT", 0)),
            exists=int(info.get(b"EXISTS", 0)),
        )

    def ensure_folder(self, folder: str) -> None:
        """Create ``folder`` unless it exists (the move target)."""
        with network(self.box):
            if not self.client.folder_exists(folder):
                self.client.create_folder(folder)

    def uids_after(self, uid: int) -> list[int]:
        """UIDs above ``uid``, ascending. (``n:*`` always matches the highest UID, even when it is
        below n; that one is filtered out.)"""
        with network(self.box):
            found = self.client.search(["UID", f"{uid + 1}:*"])
        return sorted(u for u in found if u > uid)

    def uids_since(self, day: date) -> list[int]:
        """UIDs of messages that arrived on or after ``day`` (server's INTERNALDATE), ascending."""
        with network(self.box):
            return sorted(self.client.search(["SINCE", day]))

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """RFC822.SIZE of each message that still exists."""
        if not uids:
            return {}
        with network(self.box):
            response = self.client.fetch(list(uids), [b"RFC822.SIZE"])
        return {uid: int(data.get(b"RFC822.SIZE", 0)) for uid, data in response.items()}

    def fetch(self, uids: Sequence[int], *, max_bytes: int) -> list[Fetched]:
        """The raw bytes of each message with ``BODY.PEEK[]`` (never sets ``\\Seen``); messages
        above ``max_bytes`` come back as their header only. Expunged UIDs are left out."""
        sizes = self.sizes(uids)
        # A message the server sizes at 0 is still fetched: stored, it is quarantined as empty
        # rather than skipped. UIDs with no size at all were expunged.
        small = [uid for uid in uids if uid in sizes and sizes[uid] <= max_bytes]
        big = [uid for uid in uids if sizes.get(uid, 0) > max_bytes]
        found: list[Fetched] = []
        with network(self.box):
            if small:
                response = self.client.fetch(small, [b"BODY.PEEK[]"])
                for uid in small:
                    raw = _body(response.get(uid, {}), b"BODY[]")
                    if raw is not None:
                        found.append(Fetched(uid, raw, sizes[uid]))
            if big:
                response = self.client.fetch(big, [b"BODY.PEEK[HEADER]"])
                for uid in big:
                    raw = _body(response.get(uid, {}), b"BODY[HEADER]")
                    if raw is not None:
                        found.append(Fetched(uid, raw, sizes[uid], headers_only=True))
        return sorted(found, key=lambda f: f.uid)

    def acknowledge(self, uids: Sequence[int]) -> None:
        """Apply the mailbox's after-commit action: flag ``\\Seen``, move, or nothing."""
        if not uids or self.box.after_commit == "leave":
            return
        with network(self.box):
            if self.box.after_commit == "flag":
                self.client.add_flags(list(uids), [SEEN], silent=True)
            elif self.client.has_capability("MOVE"):
                self.client.move(list(uids), self.box.move_to)
            else:
                self.client.copy(list(uids), self.box.move_to)
                self.client.add_flags(list(uids), [SEEN, b"\\Deleted"], silent=True)
                if self.client.has_capability("UIDPLUS"):
                    self.client.uid_expunge(list(uids))
                else:
                    self.client.expunge()

    @property
    def supports_idle(self) -> bool:
        """Whether the server offers IDLE."""
        with network(self.box):
            return bool(self.client.has_capability("IDLE"))

    def wait_for_mail(self, seconds: float, stop: threading.Event) -> bool:
        """IDLE until the server reports new mail (True), ``seconds`` pass or ``stop`` is set."""
        deadline = time.monotonic() + seconds
        quick_empty = 0
        with network(self.box):
            self.client.idle()
            try:
                while not stop.is_set():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    wait = min(1.0, remaining)
                    started = time.monotonic()
                    responses = self.client.idle_check(timeout=wait)
                    if any(_announces_mail(response) for response in responses):
                        return True
                    # imapclient swallows EOF in IDLE: a socket that keeps waking up with
                    # nothing to read is a closed connection (server gone without a BYE).
                    woke_early = not responses and time.monotonic() - started < wait / 2
                    quick_empty = quick_empty + 1 if woke_early else 0
                    if quick_empty >= 3:
                        raise imaplib.IMAP4.abort("connection closed during IDLE")
                return False
            finally:
                self.client.idle_done()

    def noop(self) -> None:
        """Keep the connection alive and notice a dead one."""
        with network(self.box):
            self.client.noop()


def _body(data: dict[bytes, Any], key: bytes) -> bytes | None:
    value = data.get(key)
    return bytes(value) if value is not None else None


def _announces_mail(response: Any) -> bool:
    if isinstance(response, tuple) and len(response) >= 2:
        if response[0] == b"BYE":
            raise imaplib.IMAP4.abort(f"server said BYE: {response[1]!r}")
        return response[1] in (b"EXISTS", b"RECENT")
    return False


def _close_quietly(client: IMAPClient) -> None:
    try:
        client.logout()
    except (OSError, IMAPClientError, EOFError):
        with suppress(OSError, IMAPClientError, EOFError):
            client.shutdown()
