"""Secrets and customer data never reach the logs, whatever the level and whichever logger.

The unit tests pin the redaction patterns down; the command tests run every command that talks to
a provider or the database at DEBUG, as a user would, and grep what they print for the secrets
they were given and the customers' addresses, numbers and messages.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from tests import prism
from tests.channels_support import add_customer
from tests.factories import brand_rows
from tests.llm_server import LLMServer, llm_server
from tidings.channels.outbox import enqueue
from tidings.config import BrandsFile
from tidings.redact import redact
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind, NotificationState
from tidings.store.models import Notification
from tidings.templates.bundled import load_bundled
from tidings.templates.samples import sample_variables

SENDGRID_KEY = "SG.Zq4fKx9PmW2nR7tYbV3cLd." + "H8sJk2LmN4pQ6rS8tU0vW2xY4zA6bC8dE0fG2hI4jK6"
TWILIO_TOKEN = "9f86d081884c7d659a2feaa0c55ad015"
LLM_KEY = "sk-proj-Tq8vXw2Yz4Ab6Cd8Ef0Gh2Ij4Kl6Mn8"
MAILBOX_PASSWORD = "imap-Pa55w0rd-Kx7q"
DB_PASSWORD = "pg-Pa55w0rd-Zr9m"

# Customers of this test: their addresses and numbers must never be printed.
CUSTOMERS = [
    ("Zephyrine Quill", "zephyrine.quill@example.in", "+919812345670"),
    ("Barnaby Oakes", "barnaby.oakes@example.co.id", "+6281234567891"),
]
INBOUND_SENDER = "marguerite.vance@example.in"
INBOUND_PHONE = "+919876501234"
INBOUND_SENTENCE = "the heron-blue teapot I ordered has still not reached my verandah"
EVAL_SENDER = "octavia.brennan@example.com"
EVAL_SENTENCE = "my parcel of saffron candles seems lost somewhere near the lighthouse"


class TestRedact:
    """The patterns, one by one, and what they must leave alone."""

    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            ("HEADERS: {'Authorization': 'Bearer SG.abcdefghij.klmnopqrstuv'}", "SG.abcdefghij"),
            ("Authorization: Basic QUMxMjM0OnRva2Vu", "QUMxMjM0OnRva2Vu"),
            ('{"authorization": "Bearer eyJhbGciOi.J9xyz"}', "eyJhbGciOi"),
            ("sending with key SG.Zq4fKx9PmW2nR7tYbV3cLd.H8sJk2LmN4pQ6rS8", "Zq4fKx9PmW2nR7"),
            ("token 9f86d081884c7d659a2feaa0c55ad015 refused", "9f86d081884c7d659a2feaa0c55ad015"),
            ("url=https://x.test/?api_key=abc123def&x=1", "abc123def"),
            ('{"api_key": "abc123def", "n": 1}', "abc123def"),
            ("password=hunter22 user=bob", "hunter22"),
            ("connect postgresql://bob:hunter22@db.example:5432/x", "hunter22"),
            ("redis://:s3cr3tpw@127.0.0.1:6379/0", "s3cr3tpw"),
            ("openai key sk-proj-Tq8vXw2Yz4Ab6Cd8Ef0G", "Tq8vXw2Yz4Ab6Cd8"),
        ],
    )
    def test_secrets_are_masked(self, text: str, secret: str) -> None:
        """Credentials in headers, pairs, URLs and bare tokens are replaced."""
        masked = redact(text)
        assert secret not in masked
        assert "[REDACTED]" in masked

    @pytest.mark.parametrize(
        ("text", "pii"),
        [
            ("to asha.rao@example.in today", "asha.rao@example.in"),
            ("To=asha.rao%40example.in&x=1", "asha.rao%40example.in"),
            ("whatsapp:+919800000001", "+919800000001"),
            ("To=%2B919800000001&From=x", "919800000001"),
            ("call +62 812 3456 7891 now", "812 3456 7891"),
        ],
    )
    def test_customer_contacts_are_masked(self, text: str, pii: str) -> None:
        """Email addresses and E.164 numbers, plain or URL-encoded, are replaced."""
        assert pii not in redact(text)

    def test_sdk_bodies_are_masked(self) -> None:
        """A request or response body an SDK dumps is replaced by its size."""
        text = 'PAYLOAD: b\'{"content": [{"value": "Hey Asha, your kurta ships"}]}\''
        masked = redact(text)
        assert "kurta" not in masked and "PAYLOAD: [body" in masked
        assert "kurta" not in redact('POST Response: 400 b\'{"errors": "Hey Asha, kurta"}\'')

    @pytest.mark.parametrize(
        "text",
        [
            "dispatched notification_id=7 case_id=12 outcome=sent",
            "order KAP-100001 tracking DL7730142296IN",
            "sid=SM0123456789abcdef0123456789abcdef account AC0123456789abcdef0123456789abcdef",
            "took 12.5 ms at 2026-12-06T14:09:58+05:30, 1.5e+10 tokens",
            "POST http://127.0.0.1:4010/2010-04-01/Accounts/AC01/Messages.json 201",
        ],
    )
    def test_ordinary_log_lines_are_left_alone(self, text: str) -> None:
        """Ids, order numbers, message SIDs, times and URLs without credentials stay readable."""
        assert redact(text) == text

    def test_long_input_is_fast(self) -> None:
        """No pattern backtracks quadratically: a megabyte without an @ takes well under a
        second."""
        blob = "a" * 500_000 + " " + "7" * 500_000
        started = time.perf_counter()
        redact(blob)
        assert time.perf_counter() - started < 1.0


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


class TestConfigureLogging:
    """What configure_logging installs, seen from a fresh process's output."""

    SCRIPT = """
        import logging
        from tidings.logs import configure_logging, get_logger
        configure_logging(level="DEBUG", sdk={sdk})
        logging.getLogger("python_http_client.client").debug(
            "HEADERS: %s", {{"Authorization": "Bearer SG.abcdefghij.klmnopqrstuv"}}
        )
        logging.getLogger("some.library").info("mailing %s at %s", "a.b@example.in", "+919800000001")
        try:
            raise RuntimeError("login refused, password=hunter22, at imap://bob:hunter22@mail.test")
        except RuntimeError:
            logging.getLogger("another").exception("failed for c.d@example.in")
        get_logger("tidings.test").info(
            "sent to e.f@example.in", recipient="+919800000002", note="Bearer abcdefghijkl"
        )
        print("done")
    """

    def test_every_logger_and_structlog_is_redacted(self) -> None:
        """Any library's records, their tracebacks and structlog's values are masked."""
        result = _python(self.SCRIPT.format(sdk=True))
        assert result.returncode == 0, result.stderr
        output = result.stdout + result.stderr
        for leaked in (
            "klmnopqrstuv",
            "a.b@example.in",
            "919800000001",
            "hunter22",
            "c.d@example.in",
            "e.f@example.in",
            "919800000002",
            "abcdefghijkl",
        ):
            assert leaked not in output
        assert "HEADERS:" in output and "Traceback" in output and "sent to" in output

    def test_sdk_loggers_are_held_at_warning_by_default(self) -> None:
        """Without the opt-in, SDK debug lines are not printed at all, even at DEBUG."""
        result = _python(self.SCRIPT.format(sdk=False))
        assert result.returncode == 0, result.stderr
        assert "HEADERS:" not in result.stderr
        assert "mailing" in result.stderr  # other loggers still log at the chosen level


@dataclass
class Run:
    """Everything the commands printed, and the values that must not be in it."""

    output: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    pii: list[str] = field(default_factory=list)

    def tidings(self, *args: str, env: dict[str, str], cwd: Path) -> None:
        """Run a command and keep its stdout and stderr; it must succeed."""
        result = subprocess.run(
            [sys.executable, "-m", "tidings", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            cwd=cwd,
            timeout=300,
        )
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        self.output.append(f"$ tidings {' '.join(args)}\n{result.stdout}\n{result.stderr}")

    def leaks(self) -> list[str]:
        """The forbidden values that appear in any output."""
        text = "\n".join(self.output)
        return [value for value in self.secrets + self.pii if value in text]


def _eml(directory: Path) -> Path:
    directory.mkdir()
    (directory / "1.eml").write_text(
        f"From: Marguerite Vance <{INBOUND_SENDER}>\n"
        "To: Kapas & Co. Support <support@kapas.example>\n"
        "Subject: teapot KAP-100777\n"
        "Date: Sun, 22 Nov 2026 10:14:37 +0530\n"
        "Message-ID: <teapot.1@example.in>\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        f"Hello, {INBOUND_SENTENCE}. Order KAP-100777.\n"
        f"Please call me on {INBOUND_PHONE} or write to {INBOUND_SENDER}.\n",
        encoding="utf-8",
    )
    return directory


def _dataset(path: Path) -> Path:
    record = {
        "id": "r1",
        "from": EVAL_SENDER,
        "subject": "lost parcel",
        "body": f"Hi, {EVAL_SENTENCE}. Reach me at {EVAL_SENDER}.",
        "label": "wismo",
        "language": "en",
    }
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


def _enqueue(sessions: SessionFactory, brands: BrandsFile, episode: str) -> None:
    """A WhatsApp, an SMS and an email for each customer, rendered from the bundled copy."""
    with transaction(sessions) as session:
        rows = brand_rows(session, brands)
        load_bundled(session=session, brands=brands)
        kapas = brands.get("kapas")
        for name, email, phone in CUSTOMERS:
            customer = add_customer(
                session,
                rows["kapas"],
                email=email.replace("@", f"+{episode}@"),
                phone=phone[:-1] + str(len(episode)),
                channels=("whatsapp", "sms", "email"),
                last_inbound_whatsapp_at=utcnow() - timedelta(hours=1),
            )
            customer.name = name
            for kind in ChannelKind:
                # A transactional event: quiet hours (proactive messages only) never hold it.
                variables = sample_variables("order_confirmed", "en", brand=kapas, channel=kind)
                variables["customer"] = {"name": name, "first_name": name.split()[0]}
                enqueue(
                    session=session,
                    brand=rows["kapas"],
                    customer=customer,
                    event="order_confirmed",
                    episode=f"{episode}:{email}:{kind.value}",
                    variables=variables,
                    channel=kind,
                )


def _sent_messages(sessions: SessionFactory) -> tuple[list[str], list[str]]:
    """(recipients, body lines long enough to be telling) of every sent notification."""
    with sessions() as session:
        rows = list(session.scalars(select(Notification)))
    assert rows and all(row.state is NotificationState.SENT for row in rows), [
        (row.state, row.last_error) for row in rows
    ]
    lines = {
        line.strip()
        for row in rows
        for line in f"{row.subject or ''}\n{row.body or ''}".splitlines()
        if len(line.strip()) >= 24
    }
    recipients = [row.recipient.removeprefix("whatsapp:") for row in rows]
    return recipients, sorted(lines)


def _database_url(db_url: str) -> str:
    """The test database, with a password in the URL where the server takes one (PostgreSQL's
    trust auth ignores it), so a leaked URL shows."""
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        return db_url
    return url.set(password=DB_PASSWORD).render_as_string(hide_password=False)


class TestCommandsAtDebug:
    def test_no_command_prints_secrets_or_customer_data(
        self, tmp_path: Path, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """db upgrade, inbox import, worker, eval and outbox dispatch (with and without SDK
        logging) at DEBUG print none of the keys, addresses, numbers or messages they handled."""
        run = Run(
            secrets=[
                SENDGRID_KEY,
                SENDGRID_KEY.split(".")[1],
                TWILIO_TOKEN,
                base64.b64encode(f"{prism.ACCOUNT_SID}:{TWILIO_TOKEN}".encode()).decode(),
                LLM_KEY,
                MAILBOX_PASSWORD,
                DB_PASSWORD,
            ],
            pii=[INBOUND_SENDER, INBOUND_PHONE, INBOUND_PHONE[3:], INBOUND_SENTENCE],
        )
        run.pii += [EVAL_SENDER, EVAL_SENTENCE]
        mailbox = {
            "name": "kapas-support",
            "brand": "kapas",
            "host": "127.0.0.1",
            "port": 1,
            "username": "support@kapas.example",
            "password": MAILBOX_PASSWORD,
        }
        with llm_server() as llm:
            env = {
                "TIDINGS_DATABASE_URL": _database_url(db_url),
                "TIDINGS_LOG_LEVEL": "DEBUG",
                "TIDINGS_OUTBOX_DIR": str(tmp_path / "outbox"),
                "TIDINGS_MAILBOXES": json.dumps([mailbox]),
                "TIDINGS_LLM__BASE_URL": llm.url,
                "TIDINGS_LLM__API_KEY": LLM_KEY,
                "TIDINGS_SENDGRID__API_KEY": SENDGRID_KEY,
                "TIDINGS_SENDGRID__HOST": prism.server(prism.SENDGRID_MAIL).url,
                "TIDINGS_TWILIO__ACCOUNT_SID": prism.ACCOUNT_SID,
                "TIDINGS_TWILIO__AUTH_TOKEN": TWILIO_TOKEN,
                "TIDINGS_TWILIO__API_BASE_URL": prism.server(prism.TWILIO_API).url,
            }
            self._run_all(run, llm, env, tmp_path, sessions, brands)
        recipients, body_lines = _sent_messages(sessions)
        run.pii += recipients + [r.replace("+", "%2B") for r in recipients] + body_lines
        assert len(body_lines) >= 6
        assert run.leaks() == []

    def _run_all(
        self,
        run: Run,
        llm: LLMServer,
        env: dict[str, str],
        cwd: Path,
        sessions: SessionFactory,
        brands: BrandsFile,
    ) -> None:
        run.tidings("db", "upgrade", env=env, cwd=cwd)
        mail = _eml(cwd / "mail")
        run.tidings("inbox", "import", str(mail), "--mailbox", "kapas-support", env=env, cwd=cwd)
        run.tidings("worker", "--once", env=env, cwd=cwd)
        dataset = _dataset(cwd / "tiny.jsonl")
        report = str(cwd / "report.json")
        eval_args = ("eval", "--dataset", str(dataset), "--classifier", "llm", "--output", report)
        run.tidings(*eval_args, env=env, cwd=cwd)
        assert llm.requests, "the LLM was never asked: the eval did not exercise its client"
        # With SDK logging asked for, the SDKs' own lines are printed, still redacted.
        run.tidings(*eval_args, env={**env, "TIDINGS_LOG_SDK": "1"}, cwd=cwd)
        assert "/chat/completions" in run.output[-1], "SDK logging was asked for but not printed"
        _enqueue(sessions, brands, "a")
        run.tidings("outbox", "dispatch", "--once", env=env, cwd=cwd)
        # SendGrid's client dumps the Authorization header and the whole payload.
        _enqueue(sessions, brands, "bb")
        run.tidings("outbox", "dispatch", "--once", env={**env, "TIDINGS_LOG_SDK": "1"}, cwd=cwd)
        assert "/v3/mail/send" in run.output[-1], "SDK logging was asked for but not printed"
