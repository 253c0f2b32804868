"""Parse a stored raw email into a ``ParsedEmail``: headers decoded, readable text, order ids.

This is the pipeline's first step. It never raises on odd input it can still read (it records a
warning instead); mail it cannot read at all raises ``InboxError`` and is quarantined.
"""

from __future__ import annotations

import re
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from pydantic import BaseModel, Field

from tidings.errors import InboxError


class Attachment(BaseModel):
    """Metadata of an attached part; its bytes stay in the raw email."""

    filename: str | None
    content_type: str
    size_bytes: int


class Mailbox(BaseModel):
    """A display name and an address."""

    name: str | None = None
    address: str


class ParsedEmail(BaseModel):
    """What the classifier and the agent read of an email."""

    message_id: str | None = None
    subject: str = ""
    sender: Mailbox | None = None
    reply_to: Mailbox | None = None
    to: list[Mailbox] = Field(default_factory=list)
    date: datetime | None = None
    in_reply_to: str | None = None
    references: list[str] = Field(default_factory=list)
    text: str = ""
    attachments: list[Attachment] = Field(default_factory=list)
    order_ids: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class _TextExtractor(HTMLParser):
    """Visible text of an HTML body; scripts, styles and head are dropped."""

    SKIP = frozenset({"script", "style", "head", "title", "template"})
    BLOCK = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "section"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text from HTML, one block per line."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (
        re.sub(r"[ \t\xa0]+", " ", line).strip() for line in "".join(extractor.parts).splitlines()
    )
    return "\n".join(line for line in lines if line)


def _mailboxes(value: str | None) -> list[Mailbox]:
    if not value:
        return []
    return [
        Mailbox(name=name or None, address=addr.lower())
        for name, addr in getaddresses([value])
        if addr
    ]


def _body_text(message: EmailMessage, warnings: list[str]) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError) as exc:
        warnings.append(f"body could not be decoded as declared ({exc}); decoded leniently")
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    return html_to_text(content) if part.get_content_type() == "text/html" else content.strip()


def _attachments(message: EmailMessage) -> list[Attachment]:
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        found.append(
            Attachment(
                filename=part.get_filename(), content_type=part.get_content_type(), size_bytes=size
            )
        )
    return found


def find_order_ids(text: str, patterns: list[str]) -> list[str]:
    """Order ids found by the brands' patterns, in order of appearance, without repeats."""
    seen: dict[str, None] = {}
    for pattern in patterns:
        for match in re.finditer(pattern, text):
            seen.setdefault(match.group(0).upper(), None)
    return list(seen)


def parse_email(raw: bytes, *, order_id_patterns: list[str] | None = None) -> ParsedEmail:
    """Parse raw RFC 5322 bytes. Raises ``InboxError`` only when nothing usable is there."""
    if not raw.strip():
        raise InboxError("empty message: nothing to parse")
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)  # noqa: S101 - policy.default guarantees it
    warnings = [f"header defect: {type(d).__name__}" for d in message.defects]
    senders = _mailboxes(str(message.get("From", "")))
    if not senders and not message.keys():
        raise InboxError("no headers found: not an RFC 5322 message")
    date = None
    try:
        date = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        warnings.append("Date header unreadable")
    text = _body_text(message, warnings)
    subject = str(message.get("Subject", "") or "")
    reply_to = _mailboxes(str(message.get("Reply-To", "")))
    return ParsedEmail(
        message_id=str(message.get("Message-ID", "")).strip().strip("<>") or None,
        subject=subject,
        sender=senders[0] if senders else None,
        reply_to=reply_to[0] if reply_to else None,
        to=_mailboxes(str(message.get("To", ""))),
        date=date,
        in_reply_to=str(message.get("In-Reply-To", "")).strip().strip("<>") or None,
        references=re.findall(r"<([^>]+)>", str(message.get("References", ""))),
        text=text,
        attachments=_attachments(message),
        order_ids=find_order_ids(f"{subject}\n{text}", order_id_patterns or []),
        warnings=warnings,
    )
