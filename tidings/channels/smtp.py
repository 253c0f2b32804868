"""Email through your own SMTP relay (standard library ``smtplib``; STARTTLS, TLS or plain).

Every attempt of one notification carries the same Message-ID, so a receiving system can drop a
second copy: that is what makes this channel idempotent and a crash-interrupted send safe to
repeat.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.header import Header
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formataddr, formatdate
from typing import Literal

from tidings.channels.base import OutboundMessage, SendResult
from tidings.errors import (
    ChannelError,
    ChannelOutcomeUnknownError,
    ChannelRejectedError,
    ConfigError,
)
from tidings.store.enums import ChannelKind

PROVIDER = "smtp"
Security = Literal["starttls", "tls", "none"]


class SMTPChannel:
    """Email through an SMTP relay, one connection per message."""

    name = PROVIDER
    kind = ChannelKind.EMAIL
    idempotent = True

    def __init__(
        self,
        *,
        host: str,
        port: int = 587,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        rate_per_second: float | None = None,
    ) -> None:
        if not host:
            raise ConfigError("SMTP needs TIDINGS_SMTP__HOST")
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username, password
        self.timeout = timeout_seconds
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.rate_per_second = rate_per_second

    def send(self, message: OutboundMessage) -> SendResult:
        """Deliver to the relay; the Message-ID is the provider message id."""
        email = build_email(message)
        try:
            with self._connect() as smtp:
                smtp.send_message(email)
        except smtplib.SMTPAuthenticationError as exc:
            raise ChannelRejectedError(
                f"SMTP login refused ({exc.smtp_code}): "
                "check TIDINGS_SMTP__USERNAME and TIDINGS_SMTP__PASSWORD"
            ) from exc
        except (ConnectionRefusedError, socket.gaierror, smtplib.SMTPConnectError) as exc:
            raise ChannelError(f"SMTP relay {self.host}:{self.port} unreachable: {exc}") from exc
        except ssl.SSLError as exc:
            raise ChannelError(
                f"TLS with SMTP relay {self.host}:{self.port} failed: {exc}; "
                "check TIDINGS_SMTP__SECURITY and the relay's certificate"
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _from_reply(code, text) from exc
        except smtplib.SMTPResponseException as exc:
            raise _from_reply(exc.smtp_code, exc.smtp_error) from exc
        except (OSError, smtplib.SMTPException) as exc:
            # Dropped or timed out mid-conversation: the relay may have queued it.
            raise ChannelOutcomeUnknownError(f"SMTP conversation failed: {exc!r}") from exc
        return SendResult(provider=PROVIDER, provider_message_id=str(email["Message-ID"]))

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self.ssl_context
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                smtp.starttls(context=self.ssl_context)
        if self.username:
            smtp.login(self.username, self.password or "")
        return smtp

    def close(self) -> None:
        """Nothing to close: one connection per message."""


def _from_reply(code: int, text: bytes | str) -> ChannelError:
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    message = f"SMTP relay answered {code}: {detail}"
    # 4yz replies are transient by definition (RFC 5321 4.2.1); 5yz are permanent.
    if 400 <= code < 500:
        return ChannelError(message)
    return ChannelRejectedError(message)


class _MailPolicy(EmailPolicy):
    """``policy.default``, except that the Subject is folded by ``email.header.Header``.

    CPython's folder moves a space that falls on the boundary between two encoded words out of
    them, into the folding whitespace, where RFC 2047 decoders drop it: a Hindi subject "आपके
    ऑर्डर" arrived as "आपकेऑर्डर". It also folds a long ASCII subject right after "Subject:",
    which reads back with a leading space. ``Header`` keeps every space inside an encoded word
    and folds plain text at a space between words.
    """

    def fold(self, name: str, value: str) -> str:
        """The header line as text."""
        if name.lower() in _FOLDED_BY_HEADER:
            return _folded(name, value, self.linesep)
        folded: str = super().fold(name, value)
        return folded

    def fold_binary(self, name: str, value: str) -> bytes:
        """The header line as bytes."""
        if name.lower() in _FOLDED_BY_HEADER:
            return _folded(name, value, self.linesep).encode("ascii")
        return super().fold_binary(name, value)


_FOLDED_BY_HEADER = frozenset({"subject"})
MAIL_POLICY = _MailPolicy()


def _folded(name: str, value: str, linesep: str) -> str:
    charset = "us-ascii" if value.isascii() else "utf-8"
    folded = Header(str(value), charset, header_name=name).encode(linesep=linesep)
    return f"{name}: {folded}{linesep}"


def build_email(message: OutboundMessage) -> EmailMessage:
    """The MIME message: text with an HTML alternative, a stable Message-ID, unsubscribe headers."""
    email = EmailMessage(policy=MAIL_POLICY)
    email["From"] = formataddr((message.sender_name or "", message.sender))
    email["To"] = message.recipient
    email["Subject"] = message.subject or ""
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = message.message_id or f"<tidings.{message.notification_id}@localhost>"
    email["X-Tidings-Notification"] = str(message.notification_id)
    if message.unsubscribe_url:
        email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    return email
