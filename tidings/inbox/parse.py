"""Parse a stored raw email into a ``ParsedEmail``: what the classifier and the agent read.

The steps, one module each: headers (``headers.py``), the MIME walk (``mime.py``), charset
repair (``charset.py``), HTML to text (``html.py``), quotes, signatures and inline forwards
(``quotes.py``), language (``language.py``), sender kind (``sender.py``), order ids and tracking
numbers (``patterns.py``).

``ParsedEmail.text`` is what the author wrote now plus the readable text of anything they
forwarded (``message/rfc822`` parts and inline "Forwarded message" blocks), so a forwarded carrier
notice classifies; quoted replies and signatures are left out of it and kept in their own fields.

Odd input it can still read gives a ``ParsedEmail`` with ``warnings``; input it cannot read at
all raises ``InboxError``, which quarantines the row with that message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field

from tidings.errors import InboxError, TidingsError
from tidings.inbox import headers as hdr
from tidings.inbox.authentication import sender_disowned
from tidings.inbox.headers import Mailbox, RawHeaders
from tidings.inbox.html import html_to_text
from tidings.inbox.language import detect_language
from tidings.inbox.mime import PLACEHOLDER_CHARS, Attachment, parse_message, walk
from tidings.inbox.patterns import compile_patterns, find_order_ids, find_tracking_numbers
from tidings.inbox.quotes import split_body
from tidings.inbox.sender import SenderKind, SenderLists, is_automated, sender_kind
from tidings.patterns import Pattern

__all__ = [
    "Attachment",
    "ForwardedEmail",
    "Mailbox",
    "ParsedEmail",
    "find_order_ids",
    "html_to_text",
    "parse_email",
]

MAX_EMAIL_BYTES = 25 * 1024 * 1024
MAX_TEXT_CHARS = 100_000
MAX_FORWARD_DEPTH = 3
MAX_WARNINGS = 50
_CUE_HEADERS = ("auto-submitted", "precedence", "list-id", "list-unsubscribe", "return-path")


class ForwardedEmail(BaseModel):
    """An email forwarded inside this one (as an attachment or inline)."""

    sender: Mailbox | None = None
    subject: str = ""
    date: datetime | None = None
    text: str = ""


class ParsedEmail(BaseModel):
    """What the classifier and the agent read of an email."""

    message_id: str | None = None
    subject: str = ""
    sender: Mailbox | None = None
    reply_to: Mailbox | None = None
    to: list[Mailbox] = Field(default_factory=list)
    cc: list[Mailbox] = Field(default_factory=list)
    date: datetime | None = None
    in_reply_to: str | None = None
    references: list[str] = Field(default_factory=list)
    thread_id: str | None = Field(default=None, description="the first Message-ID of the thread")
    text: str = Field(default="", description="new text plus forwarded text; no quotes")
    author_text: str = Field(default="", description="only what the author wrote now")
    quoted: str = Field(default="", description="the quoted thread removed from text")
    signature: str = ""
    forwarded: list[ForwardedEmail] = Field(default_factory=list)
    body_format: Literal["plain", "html", "none"] = "none"
    attachments: list[Attachment] = Field(default_factory=list)
    order_ids: list[str] = Field(default_factory=list)
    tracking_numbers: list[str] = Field(default_factory=list)
    language: str | None = Field(default=None, description="ISO 639-1, or None if unclear")
    sender_kind: SenderKind = "unknown"
    automated: bool = Field(default=False, description="bulk, list, auto-generated or no-reply")
    sender_disowned: bool = Field(
        default=False, description="the From domain failed DMARC (or SPF and DKIM) on receipt"
    )
    warnings: list[str] = Field(default_factory=list)
    # Chat messages (WhatsApp, SMS) are stored like email; these say what email has no field for.
    medium: Literal["email", "whatsapp", "sms"] = "email"
    phone: str | None = Field(default=None, description="a chat sender's E.164 number")
    answers_notification: int | None = Field(
        default=None, description="our notification the chat message replies to (threading)"
    )
    answers_notice: str | None = Field(default=None, description="that notification's event")


class _Body(BaseModel):
    text: str = ""
    author: str = ""
    quoted: str = ""
    signature: str = ""
    format: Literal["plain", "html", "none"] = "none"
    forwarded: list[ForwardedEmail] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)


def parse_email(
    raw: bytes,
    *,
    order_id_patterns: Sequence[str | Pattern] | None = None,
    tracking_patterns: Sequence[str | Pattern] | None = None,
    sender_lists: SenderLists | None = None,
    max_bytes: int = MAX_EMAIL_BYTES,
    detect: bool = True,
) -> ParsedEmail:
    """Parse raw RFC 5322 bytes. Raises ``InboxError`` only when nothing usable is there.

    Without ``tracking_patterns`` or ``sender_lists`` the defaults of ``InboxSettings`` apply;
    ``detect=False`` skips language detection.
    """
    if not raw.strip():
        raise InboxError("empty message: nothing to parse")
    if len(raw) > max_bytes:
        raise InboxError(
            f"message of {len(raw)} bytes exceeds the {max_bytes}-byte limit: raise "
            "TIDINGS_INBOX__MAX_EMAIL_BYTES, then run `tidings inbox retry`"
        )
    if tracking_patterns is None or sender_lists is None:
        defaults = _defaults()
        tracking_patterns = defaults[0] if tracking_patterns is None else tracking_patterns
        sender_lists = defaults[1] if sender_lists is None else sender_lists
    orders = compile_patterns(order_id_patterns or ())  # a broken pattern is a ConfigError
    tracking = compile_patterns(tracking_patterns)
    try:
        return _parse(
            raw,
            order_id_patterns=orders,
            tracking_patterns=tracking,
            lists=sender_lists,
            detect=detect,
        )
    except TidingsError:
        raise
    except Exception as exc:  # never crash the pipeline on a parser bug: quarantine, keep raw
        raise InboxError(
            f"internal parser error ({type(exc).__name__}: {exc}); the raw email is kept: "
            "report it, and run `tidings inbox retry` after upgrading"
        ) from exc


@lru_cache(maxsize=1)
def _defaults() -> tuple[list[str], SenderLists]:
    from tidings.config.settings import InboxSettings  # avoid an import cycle

    settings = InboxSettings()
    lists = SenderLists.build(
        carriers=settings.carrier_domains,
        suppliers=settings.supplier_domains,
        customers=settings.customer_domains,
    )
    return settings.tracking_patterns, lists


def _parse(
    raw: bytes,
    *,
    order_id_patterns: Sequence[str | Pattern],
    tracking_patterns: Sequence[str | Pattern],
    lists: SenderLists,
    detect: bool,
) -> ParsedEmail:
    message = parse_message(raw)
    headers = RawHeaders(message)
    if not headers:
        raise InboxError("no headers found: not an RFC 5322 message (is this a bare body?)")
    warnings: list[str] = []
    subject = headers.get("subject")
    senders = headers.mailboxes("from")
    if not senders:
        warnings.append("From header missing or without an address")
    body = _read_body(message, subject, warnings, depth=0)
    references = hdr.message_ids(" ".join(headers.raw("references")))
    in_reply_to = next(iter(hdr.message_ids(headers.get("in-reply-to"))), None)
    message_id = hdr.message_id(headers.get("message-id")) if headers.raw("message-id") else None
    cues = {name: headers.get(name) for name in _CUE_HEADERS}
    sender = senders[0] if senders else None
    address = sender.address if sender else None
    display = sender.name if sender else headers.get("from")
    searchable = f"{subject}\n{body.text}\n{body.quoted}"
    order_ids = find_order_ids(searchable, order_id_patterns)
    return ParsedEmail(
        message_id=message_id,
        subject=subject,
        sender=sender,
        reply_to=next(iter(headers.mailboxes("reply-to")), None),
        to=headers.mailboxes("to"),
        cc=headers.mailboxes("cc"),
        date=_date(headers.get("date"), warnings),
        in_reply_to=in_reply_to,
        references=references,
        thread_id=references[0] if references else in_reply_to or message_id,
        text=body.text,
        author_text=body.author,
        quoted=body.quoted,
        signature=body.signature,
        forwarded=body.forwarded,
        body_format=body.format,
        attachments=body.attachments,
        order_ids=order_ids,
        tracking_numbers=find_tracking_numbers(searchable, tracking_patterns, exclude=order_ids),
        language=_language(body, subject) if detect else None,
        sender_kind=sender_kind(
            address=address, name=display, subject=subject, headers=cues, lists=lists
        ),
        automated=is_automated(cues, (address or "").partition("@")[0]),
        sender_disowned=sender_disowned(headers.raw("authentication-results")),
        warnings=list(dict.fromkeys(warnings))[:MAX_WARNINGS],
    )


def _date(value: str, warnings: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        warnings.append(f"Date header unreadable: {value[:60]!r}")
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _read_body(message: Message, subject: str, warnings: list[str], *, depth: int) -> _Body:
    """The body of ``message``: text, its parts, and forwarded emails read recursively."""
    found = walk(message)
    warnings += found.warnings
    plain = "\n\n".join(t for t in found.plain if t.strip())
    html = "\n".join(found.html)
    body_format: Literal["plain", "html", "none"] = "none"
    text = ""
    if plain.strip() and not (html and len(plain.strip()) < PLACEHOLDER_CHARS):
        text, body_format = plain, "plain"
    elif html:
        text, body_format = html_to_text(html), "html"
    elif plain:
        text, body_format = plain, "plain"
    split = split_body(text, subject=subject)
    forwarded = []
    if depth < MAX_FORWARD_DEPTH:
        forwarded = [_forwarded(inner, warnings, depth=depth + 1) for inner in found.forwarded]
    elif found.forwarded:
        warnings.append(f"emails forwarded more than {MAX_FORWARD_DEPTH} levels deep not read")
    blocks = [split.author, split.forwarded, *(_render(f) for f in forwarded)]
    return _Body(
        text="\n\n".join(b for b in blocks if b.strip())[:MAX_TEXT_CHARS],
        author=split.author[:MAX_TEXT_CHARS],
        quoted=split.quoted[:MAX_TEXT_CHARS],
        signature=split.signature[:4000],
        format=body_format,
        forwarded=forwarded,
        attachments=found.attachments,
    )


def _forwarded(inner: Message, warnings: list[str], *, depth: int) -> ForwardedEmail:
    headers = RawHeaders(inner)
    subject = headers.get("subject")
    body = _read_body(inner, subject, warnings, depth=depth)
    return ForwardedEmail(
        sender=next(iter(headers.mailboxes("from")), None),
        subject=subject,
        date=_date(headers.get("date"), warnings),
        text=body.text,
    )


def _render(forwarded: ForwardedEmail) -> str:
    lines = ["---------- Forwarded message ----------"]
    if forwarded.sender:
        name = f"{forwarded.sender.name} " if forwarded.sender.name else ""
        lines.append(f"From: {name}<{forwarded.sender.address}>")
    if forwarded.date:
        lines.append(f"Date: {forwarded.date.isoformat()}")
    if forwarded.subject:
        lines.append(f"Subject: {forwarded.subject}")
    return "\n".join(lines) + "\n\n" + forwarded.text


def _language(body: _Body, subject: str) -> str | None:
    """Detect on the author's own words; when they are too few to tell, on everything."""
    found = detect_language(body.author) if len(body.author) >= 20 else None
    return found or detect_language(f"{subject}\n{body.author}\n{body.text}")
