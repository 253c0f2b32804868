"""Store raw emails once per (mailbox, Message-ID), whatever path they arrive by.

The dedupe key is the Message-ID. Without one, or when a Message-ID comes back with different
content (broken mailers reuse them), the key falls back to a hash of the content, so two distinct
emails are never merged and the same email is never stored twice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.inbox.headers import RawHeaders, decode_value
from tidings.store.enums import EmailState
from tidings.store.models import InboundEmail

MAX_EMAIL_BYTES = 25 * 1024 * 1024
MAX_KEY_LENGTH = 400
# Headers each delivery adds; they differ between two copies of the same email.
TRACE_HEADERS = re.compile(
    rb"^(received|return-path|delivered-to|x-original-to|x-received)\s*:", re.I
)

Outcome = Literal["imported", "duplicate", "quarantined"]


@dataclass(frozen=True)
class StoreResult:
    """What happened to one email."""

    outcome: Outcome
    email_id: int | None


def content_hash(raw: bytes) -> str:
    """sha256 of the email without its per-delivery trace headers."""
    head, sep, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    kept: list[bytes] = []
    dropping = False
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t"):  # a folded continuation of the previous header
            if not dropping:
                kept.append(line)
            continue
        dropping = bool(TRACE_HEADERS.match(line))
        if not dropping:
            kept.append(line)
    return hashlib.sha256(b"\n".join(kept) + sep + body).hexdigest()


def header_fields(raw: bytes) -> tuple[str | None, str | None, str | None]:
    """(Message-ID without brackets, From, Subject) read leniently; any may be None."""
    headers = RawHeaders(BytesHeaderParser(policy=compat32).parsebytes(raw[: 256 * 1024]))
    ids = headers.raw("message-id")
    # Decoded like every other header, so a NUL or stray 8-bit byte cannot break the insert.
    message_id = decode_value(ids[0]).strip().strip("<>").strip() or None if ids else None
    sender = headers.get("from")[:320] or None
    subject = headers.get("subject") or None
    return message_id, sender, subject


def _key_for(message_id: str | None, digest: str) -> str:
    if not message_id:
        return f"sha256:{digest}"
    if len(message_id) > MAX_KEY_LENGTH:
        return "msgid-sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    return message_id


def _existing(session: Session, mailbox: str, key: str) -> InboundEmail | None:
    return session.scalars(
        select(InboundEmail).where(InboundEmail.mailbox == mailbox, InboundEmail.dedupe_key == key)
    ).one_or_none()


def store_raw_email(
    *,
    session: Session,
    mailbox: str,
    raw: bytes,
    brand_id: int | None = None,
    imap_uid: int | None = None,
    uidvalidity: int | None = None,
    problem: str | None = None,
) -> StoreResult:
    """Insert the email unless this mailbox already has it; the caller commits. Empty or oversized
    mail is stored too, as quarantined, so nothing is lost; so is mail the caller flags with a
    ``problem`` (e.g. only its header could be fetched)."""
    digest = content_hash(raw)
    message_id, sender, subject = header_fields(raw)
    key = _key_for(message_id, digest)
    found = _existing(session, mailbox, key)
    if found is not None and found.content_hash != digest:
        key = f"{key[:MAX_KEY_LENGTH]}#sha256:{digest}"  # Message-ID reused for other content
        found = _existing(session, mailbox, key)
    if found is not None:
        return StoreResult("duplicate", found.id)
    problem = problem or _quarantine_reason(raw)
    row = InboundEmail(
        mailbox=mailbox,
        brand_id=brand_id,
        message_id=message_id[:998] if message_id else None,
        dedupe_key=key,
        content_hash=digest,
        imap_uid=imap_uid,
        imap_uidvalidity=uidvalidity,
        raw=raw,
        size_bytes=len(raw),
        sender=sender,
        subject=subject,
        state=EmailState.QUARANTINED if problem else EmailState.RECEIVED,
        last_error=problem,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Another process stored the same email between our check and our insert.
        again = _existing(session, mailbox, key)
        return StoreResult("duplicate", again.id if again else None)
    return StoreResult("quarantined" if problem else "imported", row.id)


def _quarantine_reason(raw: bytes) -> str | None:
    if not raw.strip():
        return "empty message: no headers and no body"
    if len(raw) > MAX_EMAIL_BYTES:
        return f"message of {len(raw)} bytes exceeds the {MAX_EMAIL_BYTES}-byte limit"
    return None
