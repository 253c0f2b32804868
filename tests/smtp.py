"""An aiosmtpd server on loopback that keeps a mailbox and misbehaves on demand.

Like a receiving mail system, the mailbox keeps one copy per Message-ID: a message delivered twice
with the same Message-ID is received twice (``received``) but stored once (``mailbox``).
Scripted replies: ``"451"`` (try later), ``"550"`` (refused), ``"drop"`` (accept, then hang up
before answering, so the client cannot tell whether it went through).
"""

from __future__ import annotations

import ssl
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.http import free_port


@dataclass
class Mailbox:
    """What the server received, and its scripted misbehaviour."""

    host: str = "127.0.0.1"
    port: int = 0
    script: deque[str] = field(default_factory=deque)
    received: list[EmailMessage] = field(default_factory=list)
    mailbox: dict[str, EmailMessage] = field(default_factory=dict)

    def then(self, *replies: str) -> Mailbox:
        """Queue replies for the next messages."""
        self.script.extend(replies)
        return self


class _Handler:
    def __init__(self, state: Mailbox) -> None:
        self.state = state

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        reply = self.state.script.popleft() if self.state.script else "250"
        if reply == "451":
            return "451 4.3.0 try again later"
        if reply == "550":
            return "550 5.1.1 mailbox unavailable"
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.state.received.append(message)
        self.state.mailbox.setdefault(str(message["Message-ID"]), message)
        if reply == "drop":
            server.transport.close()  # queued, but the client never hears so
            return "250 OK"
        return "250 OK"


@contextmanager
def smtp_server(*, tls_context: ssl.SSLContext | None = None) -> Iterator[Mailbox]:
    """Start aiosmtpd on a free loopback port; with ``tls_context`` it offers STARTTLS."""
    state = Mailbox(port=free_port())
    controller = Controller(
        _Handler(state),
        hostname="127.0.0.1",
        port=state.port,
        tls_context=tls_context,
        require_starttls=tls_context is not None,
    )
    controller.start()
    try:
        yield state
    finally:
        controller.stop()
