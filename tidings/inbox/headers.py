"""Read headers leniently: RFC 2047 words in any charset, raw 8-bit bytes, broken folding.

The standard library's strict header classes raise on some malformed addresses; these helpers
work from the raw header text instead and never raise.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from email.message import Message
from email.utils import getaddresses

from pydantic import BaseModel

from tidings.inbox.charset import decode_header_bytes

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_SPACE = re.compile(r"\s+")
_MSGID = re.compile(r"<([^<>\s]+)>")
# One address, optionally with a plain display name: no commas, quotes-in-quotes or groups.
_SIMPLE_ADDRESS = re.compile(
    r'^\s*(?:"?([^"<>,;:@\\]*?)"?\s*<([\w.+\'-]+@[\w-]+(?:\.[\w-]+)+)>|([\w.+\'-]+@[\w-]+(?:\.[\w-]+)+))\s*$'
)
MAX_HEADER_CHARS = 16_384


class Mailbox(BaseModel):
    """A display name and an address."""

    name: str | None = None
    address: str


def _word_bytes(encoding: str, payload: str) -> bytes | None:
    data = payload.encode("utf-8", errors="surrogateescape")
    try:
        if encoding in "bB":
            return base64.b64decode(data + b"=" * (-len(data) % 4))
        return quopri.decodestring(data, header=True)
    except (binascii.Error, ValueError):
        return None


def _decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words one run at a time. Adjacent words in one charset are joined
    before decoding (mailers split a multi-byte character across two words); a broken word
    spoils only itself; whitespace between adjacent words is dropped, as RFC 2047 says."""
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset = ""
    position = 0

    def flush() -> None:
        if pending:
            out.append(decode_header_bytes(b"".join(pending), pending_charset))
            pending.clear()

    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        charset = match.group(1).split("*", 1)[0].lower()
        data = _word_bytes(match.group(2), match.group(3))
        joins = not between.strip() and bool(pending or (out and position))
        if not joins or data is None or charset != pending_charset:
            flush()
            if not joins:
                out.append(between)
        if data is None:
            out.append(match.group(0))
        else:
            pending.append(data)
            pending_charset = charset
        position = match.end()
    flush()
    out.append(value[position:])
    return "".join(out)


def decode_value(value: str) -> str:
    """A header value as readable text: encoded words decoded, 8-bit bytes repaired, folding
    and runs of spaces collapsed. Never raises."""
    value = value[:MAX_HEADER_CHARS].replace("\x00", "")
    raw = value.encode("utf-8", errors="surrogateescape")
    if not raw.isascii():
        # The parser keeps undecodable header bytes as surrogate escapes: decode them properly.
        value = decode_header_bytes(raw, None)
    if "=?" in value:
        value = _decode_words(value)
    return _SPACE.sub(" ", value).strip()


class RawHeaders:
    """A message's headers by lower-case name, as the raw text the parser kept."""

    def __init__(self, message: Message) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in message.raw_items():
            self._values.setdefault(name.lower(), []).append(str(value))

    def __bool__(self) -> bool:
        return bool(self._values)

    def raw(self, name: str) -> list[str]:
        """Every raw value of ``name``."""
        return self._values.get(name.lower(), [])

    def get(self, name: str) -> str:
        """The decoded value of the first ``name`` header, or ``""``."""
        values = self.raw(name)
        return decode_value(values[0]) if values else ""

    def mailboxes(self, name: str) -> list[Mailbox]:
        """The addresses in an address header (From, To, Reply-To...), display names decoded."""
        values = [value[:MAX_HEADER_CHARS] for value in self.raw(name)]
        if len(values) == 1:
            simple = _SIMPLE_ADDRESS.match(values[0])
            if simple:  # the common "Name <addr>" or bare address: skip the full parser
                display, address = simple.group(1) or "", simple.group(2) or simple.group(3)
                return [
                    Mailbox(
                        name=decode_value(display).strip("\"' ") or None, address=address.lower()
                    )
                ]
        try:
            pairs = getaddresses(values)
        except Exception:  # the address parser has raised on hostile input
            pairs = []
        found = []
        for display, address in pairs:
            address = _SPACE.sub("", decode_value(address)).strip("<>").lower()
            if "@" not in address or address.startswith("@") or address.endswith("@"):
                continue
            found.append(Mailbox(name=decode_value(display).strip("\"' ") or None, address=address))
        if not found and values:
            found = _fallback_mailbox(decode_value(values[0]))
        return found


def _fallback_mailbox(text: str) -> list[Mailbox]:
    match = re.search(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", text)
    if not match:
        return []
    name = text[: match.start()].strip(" <\"'") or None
    return [Mailbox(name=name, address=match.group(0).lower())]


def message_id(value: str) -> str | None:
    """A Message-ID without its angle brackets."""
    value = decode_value(value)
    match = _MSGID.search(value)
    found = match.group(1) if match else value.strip().strip("<>").strip()
    return found[:998] or None


def message_ids(value: str) -> list[str]:
    """Every Message-ID in a References or In-Reply-To header, in order."""
    return _MSGID.findall(decode_value(value))
