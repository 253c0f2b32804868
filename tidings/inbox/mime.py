"""Walk a MIME tree: pick the readable body, list attachments, find forwarded emails.

Works on the standard library's lenient ``compat32`` message objects, so broken MIME (missing
boundaries, bad base64 or quoted-printable, unknown charsets) still yields what can be read,
with a warning per problem instead of an exception.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from email import errors, message_from_bytes
from email.message import Message
from email.parser import BytesHeaderParser

from pydantic import BaseModel

from tidings.inbox.charset import decode_text
from tidings.inbox.headers import decode_value

MAX_DEPTH = 12
MAX_PARTS = 500
# A plain alternative shorter than this is a placeholder; the HTML one is the real body.
PLACEHOLDER_CHARS = 40


class Attachment(BaseModel):
    """Metadata of an attached part; its bytes stay in the raw email."""

    filename: str | None
    content_type: str
    size_bytes: int
    inline: bool = False


@dataclass
class Walked:
    """What a walk found, in document order."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    forwarded: list[Message] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    parts: int = 0

    def absorb(self, other: Walked) -> None:
        """Add another walk's findings to this one."""
        self.plain += other.plain
        self.html += other.html
        self.attachments += other.attachments
        self.forwarded += other.forwarded
        self.warnings += other.warnings
        self.parts += other.parts


_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def parse_message(raw: bytes) -> Message:
    """``email.message_from_bytes`` (lenient ``compat32``), faster for single-part mail: only the
    header goes through the line-by-line parser, the body is attached as it is."""
    separator = _BLANK_LINE.search(raw)
    if separator is None:
        return message_from_bytes(raw)
    message = BytesHeaderParser().parsebytes(raw[: separator.end()])
    if message.defects or _content_type(message).split("/")[0] in ("multipart", "message"):
        return message_from_bytes(raw)
    # What the full parser would store: the body as text, undecodable bytes surrogate-escaped.
    message.set_payload(raw[separator.end() :].decode("ascii", errors="surrogateescape"))
    return message


_PARAM = re.compile(r';\s*([\w.*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')
_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


def content(part: Message) -> tuple[str, dict[str, str]]:
    """(lower-case content type, parameters) from one read of Content-Type. A missing or
    malformed type is text/plain, as RFC 2045 and the standard library say. (The library's own
    accessors re-parse the header on every call; this is the parser's hot path.)"""
    value = part.get("content-type")
    if value is None:
        return "text/plain", {}
    value = str(value)
    ctype = value.split(";", 1)[0].strip().lower()
    params = {k.lower(): v.strip('"') for k, v in _PARAM.findall(value)}
    return (ctype if _TYPE.match(ctype) else "text/plain"), params


def _content_type(part: Message) -> str:
    return content(part)[0]


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # broken RFC 2231 parameters: no usable name
        return None
    return decode_value(str(name))[:255] or None if name else None


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _payload_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # undecodable transfer encoding: keep what is there
        payload = None
    if any(isinstance(d, errors.InvalidBase64LengthDefect) for d in part.defects):
        payload = None  # the library gave up and returned the base64 text itself
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    data = raw.encode("utf-8", errors="surrogateescape") if isinstance(raw, str) else b""
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    return lenient_base64(data) if cte == "base64" else data


def lenient_base64(data: bytes) -> bytes:
    """Decode base64 that is truncated or has junk: keep the alphabet, drop a dangling char."""
    kept = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    kept = kept[: len(kept) - 1] if len(kept) % 4 == 1 else kept
    return base64.b64decode(kept + b"=" * (-len(kept) % 4))


def part_text(part: Message, warnings: list[str], params: dict[str, str] | None = None) -> str:
    """The decoded text of a text/* leaf part, charset repaired, flowed lines joined."""
    params = content(part)[1] if params is None else params
    decoded = decode_text(_payload_bytes(part), params.get("charset") or None)
    if decoded.warning:
        warnings.append(decoded.warning)
    text = decoded.text.replace("\r\n", "\n").replace("\r", "\n")
    return unflow(text) if params.get("format", "").lower() == "flowed" else text


def unflow(text: str) -> str:
    """Join RFC 3676 format=flowed soft line breaks (a line ending in a space continues)."""
    out: list[str] = []
    for line in text.split("\n"):
        if out and out[-1].endswith(" ") and out[-1] != "-- " and not line.startswith(">"):
            out[-1] += line
        else:
            out.append(line)
    return "\n".join(out)


def walk(message: Message, depth: int = 0) -> Walked:
    """Everything readable in ``message`` (not descending into forwarded emails)."""
    found = Walked(parts=1)
    found.warnings += [f"MIME defect: {type(d).__name__}" for d in message.defects]
    if depth > MAX_DEPTH:
        found.warnings.append(f"MIME nesting deeper than {MAX_DEPTH}; inner parts skipped")
        return found
    ctype, params = content(message)
    if message.is_multipart():
        _walk_multipart(message, ctype, depth, found)
    elif ctype in ("message/rfc822", "message/global"):
        # Some clients base64-encode an attached email, so the parser saw no message inside.
        inner = message_from_bytes(_payload_bytes(message))
        found.forwarded.append(inner)
        found.attachments.append(
            Attachment(filename=_filename(message), content_type=ctype, size_bytes=0)
        )
    else:
        _walk_leaf(message, ctype, params, found)
    return found


def _readable(texts: list[str]) -> bool:
    """Plain text worth reading, not a stub like "View this email in your browser"."""
    return sum(len(t.strip()) for t in texts) >= PLACEHOLDER_CHARS


def _children(message: Message) -> list[Message]:
    payload = message.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _walk_multipart(message: Message, ctype: str, depth: int, found: Walked) -> None:
    children = _children(message)
    if ctype == "message/delivery-status":
        found.plain.append("\n".join(decode_value(c.as_string()) for c in children))
        return
    if ctype.startswith("message/"):
        _walk_forwarded(message, found)
        return
    if ctype == "multipart/alternative" and children:
        walks = [walk(child, depth + 1) for child in children]
        best = next((w for w in walks if _readable(w.plain)), None)
        best = best or next((w for w in walks if w.html), None)
        best = best or next((w for w in walks if w.plain), walks[0])
        for other in walks:
            if other is not best:
                found.attachments += other.attachments
                found.warnings += other.warnings
        found.absorb(best)
        return
    for child in children:
        if found.parts >= MAX_PARTS:
            found.warnings.append(f"more than {MAX_PARTS} MIME parts; the rest skipped")
            break
        found.absorb(walk(child, depth + 1))


def _walk_forwarded(message: Message, found: Walked) -> None:
    inner = _children(message)
    cte = str(message.get("content-transfer-encoding", "")).strip().lower()
    if inner and cte in ("base64", "quoted-printable") and not inner[0].keys():
        # An encoded attached email: the parser saw the encoded text as a headerless message.
        payload = inner[0].get_payload()
        if isinstance(payload, str):
            encoded = message.__class__()
            encoded["Content-Transfer-Encoding"] = cte
            encoded.set_payload(payload)
            inner = [message_from_bytes(_payload_bytes(encoded))]
    if inner:
        found.forwarded.append(inner[0])
    found.attachments.append(
        Attachment(
            filename=_filename(message),
            content_type="message/rfc822",
            size_bytes=len(inner[0].as_bytes()) if inner else 0,
        )
    )


def _walk_leaf(part: Message, ctype: str, params: dict[str, str], found: Walked) -> None:
    raw_disposition = part.get("content-disposition")
    disposition = _disposition(part) if raw_disposition is not None else None
    named = "name" in params or (raw_disposition is not None and "name" in str(raw_disposition))
    filename = _filename(part) if named else None
    is_body = ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename
    if is_body:
        text = part_text(part, found.warnings, params)
        (found.plain if ctype == "text/plain" else found.html).append(text)
        return
    if ctype == "message/delivery-status" or ctype == "text/rfc822-headers":
        found.plain.append(part_text(part, found.warnings, params))
    found.attachments.append(
        Attachment(
            filename=filename,
            content_type=ctype,
            size_bytes=len(_payload_bytes(part)),
            inline=disposition == "inline",
        )
    )
