"""A private Dovecot IMAP server on loopback, for the inbox tests and the ingest benchmark.

Recipe from ../shared/TESTING.md: a standalone config in a temp dir, a self-signed certificate
(STARTTLS on one port, implicit TLS on another), any user name with one password (so each test
gets a fresh, empty mailbox by picking a new user), started in the foreground as ``nobody`` when
we are root. The bad-password tests would otherwise slow every later login from 127.0.0.1: the
auth penalty is off (``anvil-auth-penalty`` mode 0, as Dovecot's docs describe). ``restart()`` keeps the mail and its UIDVALIDITY, as a real server restart does.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from imapclient import IMAPClient
from pydantic import SecretStr

from tests.services import missing
from tidings.config.settings import InboxSettings, MailboxSettings

PASSWORD = "imap-test-password"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mailbox_idle_check_interval = 1 secs
mail_max_userip_connections = 200
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
{extra}
"""


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def available() -> bool:
    """Whether Dovecot is installed here."""
    return Path(DOVECOT).exists()


def require() -> None:
    """Skip (or, on CI, fail) when Dovecot is missing."""
    if available():
        return
    message = "Dovecot is not installed: run .ci/setup.d/10-dovecot.sh (apt dovecot-imapd)"
    missing(message)


class Dovecot:
    """One private Dovecot instance; use ``with Dovecot() as server:``."""

    def __init__(self, *, extra_config: str = "") -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tidings-dovecot-"))
        self.root.chmod(0o755)
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        as_root = os.geteuid() == 0
        self.user = "nobody" if as_root else pwd.getpwuid(os.getuid()).pw_name
        self.group = "nogroup" if as_root else _group_name()
        self._write_files(extra_config)

    @property
    def ca_file(self) -> Path:
        """The self-signed certificate, to trust as a CA."""
        return self.root / "cert.pem"

    def _write_files(self, extra: str) -> None:
        for name in ("run", "state", "mail"):
            (self.root / name).mkdir()
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
                *("-keyout", str(self.root / "key.pem"), "-out", str(self.ca_file)),
                *("-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
            ],
            check=True,
            capture_output=True,
        )
        (self.root / "dovecot.conf").write_text(
            CONFIG.format(
                root=self.root,
                user=self.user,
                group=self.group,
                password=PASSWORD,
                imap_port=self.imap_port,
                imaps_port=self.imaps_port,
                extra=extra,
            )
        )
        for path in self.root.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        if os.geteuid() == 0:
            for path in (self.root, *self.root.rglob("*")):
                shutil.chown(path, self.user, self.group)

    def start(self) -> None:
        """Start in the foreground (PID = master) and wait until it accepts connections."""
        command = [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")]
        if os.geteuid() == 0:
            command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
        self.process = subprocess.Popen(  # its own process group: stop() ends its children too
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited at start; see {self.root / 'dovecot.log'}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.imap_port), timeout=2) as probe,
            ):
                # Wait for the greeting, not just the accept: a login process stopped before it
                # finished starting stalls the master's shutdown for seconds.
                if probe.recv(64).startswith(b"* OK"):
                    return
            time.sleep(0.02)
        raise RuntimeError("dovecot did not start listening within 10 s")

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (or SIGKILL) the server and its children; mail stays on disk."""
        if self.process is None:
            return
        pgid = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            if kill:
                os.killpg(pgid, signal.SIGKILL)
            else:  # the master stops its children in order; signalling them too stalls it
                self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # Children of the group may outlive the master for a moment: end them too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        self.process = None
        _wait_port_closed(self.imap_port)

    def restart(self) -> None:
        """Stop and start again on the same ports and mail."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and delete everything."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what tests use --------------------------------------------------------------------

    def inbox_settings(self, **overrides: object) -> InboxSettings:
        """Inbox settings trusting this server's certificate, with fast reconnects."""
        values: dict[str, object] = {
            "tls_ca_file": self.ca_file,
            "reconnect_initial_seconds": 0.2,
            "reconnect_max_seconds": 2.0,
            "timeout_seconds": 10.0,
            "poll_interval_seconds": 0.5,
            # Re-sync every few seconds even when IDLE announces nothing, as the production
            # refresh does (every 5 minutes), so a missed notification cannot stall a test.
            "idle_refresh_seconds": 2.0,
        }
        values.update(overrides)
        return InboxSettings.model_validate(values)

    def mailbox(
        self, user: str | None = None, *, security: str = "starttls", **overrides: object
    ) -> MailboxSettings:
        """Settings for a mailbox of ``user`` (a fresh user by default) on this server."""
        user = user or new_user()
        values: dict[str, object] = {
            "name": user.split("@")[0],
            "brand": "kapas",
            "host": "127.0.0.1",
            "port": self.imaps_port if security == "tls" else self.imap_port,
            "security": security,
            "username": user,
            "password": SecretStr(PASSWORD),
        }
        values.update(overrides)
        return MailboxSettings.model_validate(values)

    @contextlib.contextmanager
    def client(self, user: str) -> Iterator[IMAPClient]:
        """A plain logged-in client for the test's own checks and deliveries."""
        client = IMAPClient("127.0.0.1", port=self.imap_port, ssl=False, timeout=10)
        client.login(user, PASSWORD)
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def deliver(self, user: str, messages: Iterable[bytes], folder: str = "INBOX") -> None:
        """Append messages (unseen) to a folder, creating it if needed."""
        with self.client(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            batch: list[bytes] = []
            for message in messages:
                batch.append(message)
                if len(batch) == 200:
                    client.multiappend(folder, batch)
                    batch = []
            if batch:
                client.multiappend(folder, batch)

    def flags(self, user: str, folder: str = "INBOX") -> dict[int, tuple[bool, str | None]]:
        """For each UID in the folder: (seen?, Message-ID)."""
        with self.client(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            if not uids:
                return {}
            data = client.fetch(uids, [b"FLAGS", b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        result = {}
        for uid, item in data.items():
            header = item.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]", b"").decode(errors="replace")
            message_id = header.partition(":")[2].strip().strip("<>") or None
            result[uid] = (b"\\Seen" in item.get(b"FLAGS", ()), message_id)
        return result


def new_user() -> str:
    """A user name no other test uses: a new, empty mailbox."""
    return f"box{uuid.uuid4().hex[:10]}@example.test"


def make_email(number: int, *, message_id: str | None = None, body: str | None = None) -> bytes:
    """A small, realistic customer email; its Message-ID is ``m{number}@test`` by default."""
    mid = message_id or f"m{number}@test"
    text = body or f"Hi, where is my order KAP-{240000 + number}? It is late. Thanks, Asha"
    return (
        f"From: Asha Rao <asha{number}@example.in>\r\n"
        "To: support@kapas.example\r\n"
        f"Subject: Order KAP-{240000 + number}\r\n"
        f"Message-ID: <{mid}>\r\n"
        "Date: Mon, 23 Nov 2026 10:00:00 +0530\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{text}\r\n"
    ).encode()


def _group_name() -> str:
    import grp  # POSIX only, like Dovecot

    return grp.getgrgid(os.getgid()).gr_name


def _wait_port_closed(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                pass
        except OSError:
            return
        time.sleep(0.02)
