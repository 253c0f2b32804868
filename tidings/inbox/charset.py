"""Turn bytes into text even when the declared charset is wrong, unknown or missing.

Mailers lie about charsets: UTF-8 labelled ``iso-8859-1``, Windows-1252 labelled ``us-ascii``,
names Python does not know (``utf8mb4``, ``x-unknown``), or text decoded twice (``Ã©`` for
``é``). ``decode_text`` always returns text and says what it repaired, so the parser can keep a
warning instead of failing.
"""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

from charset_normalizer import from_bytes

# Labels seen in the wild that Python's codec registry does not know, mapped to what they mean.
ALIASES = {
    "utf8mb4": "utf-8",
    "utf-8mb4": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "x-unicode20utf8": "utf-8",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "x-sjis": "shift_jis",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "gb2312": "gb18030",  # a superset: mail labelled gb2312 often uses GBK characters
    "gbk": "gb18030",
    "ansi_x3.4-1968": "ascii",
    "us-ascii": "ascii",
    "iso-8859-1": "cp1252",  # WHATWG: browsers and mailers treat latin-1 as windows-1252
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
}
# Labels under which UTF-8 commonly hides: if the bytes are valid UTF-8, believe the bytes.
_WEAK_LABELS = frozenset({"ascii", "cp1252", "latin_1", "iso8859-15", "iso8859_15"})
# Traces of UTF-8 read as Windows-1252 (é -> Ã©, ’ -> â€™, Devanagari -> à¤...).
_MOJIBAKE = re.compile("[ÃÂ][\x80-\xbf\u0152-\u2122]|â€|à¤|à¥")
# Above this size, statistical detection costs more than it is worth: decode leniently.
_DETECT_LIMIT = 256 * 1024


class Decoded(NamedTuple):
    """Text and, when something had to be repaired, a sentence saying what."""

    text: str
    warning: str | None = None


def codec_for(label: str | None) -> str | None:
    """The Python codec for a charset label, or None when the label is unknown or missing."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def repair_mojibake(text: str) -> str | None:
    """Undo one round of UTF-8-read-as-Windows-1252, or None when the text does not show it.
    One look-alike pair ("Â" and a no-break space) can be meant; two or more are taken as
    mojibake."""
    if len(_MOJIBAKE.findall(text)) < 2:
        return None
    for codec in ("cp1252", "latin-1"):
        try:
            fixed = text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
        if fixed != text:
            return fixed
    return None


# Single-byte Latin code pages look alike to a detector on short text; Windows-1252 is by far
# the most common in mail, so when the detector lands in this family, 1252 wins if it decodes.
_LATIN_FAMILY = frozenset(
    {"cp1250", "cp1252", "cp1254", "cp1257", "latin_1", "iso8859_2", "iso8859_15", "mac_roman"}
    | {"iso8859_9", "iso8859_13", "cp850", "cp437"}
)


def _detect(data: bytes) -> str | None:
    if len(data) > _DETECT_LIMIT:
        return None
    best = from_bytes(data).best()
    if best is None:
        return None
    if best.encoding in _LATIN_FAMILY:
        try:
            data.decode("cp1252")
        except UnicodeDecodeError:
            return str(best.encoding)
        return "cp1252"
    return str(best.encoding)


def decode_text(data: bytes, declared: str | None) -> Decoded:
    """Decode ``data`` that claims to be in ``declared``; never raises. NUL characters are
    dropped: no reader needs them and PostgreSQL text columns refuse them."""
    decoded = _decode(data, declared)
    if "\x00" in decoded.text:
        return Decoded(decoded.text.replace("\x00", ""), decoded.warning)
    return decoded


def _decode(data: bytes, declared: str | None) -> Decoded:
    if data.isascii():
        return Decoded(data.decode("ascii"))
    codec = codec_for(declared)
    as_utf8 = _utf8(data)
    if as_utf8 is not None and (codec is None or codec in _WEAK_LABELS or codec == "utf-8"):
        if codec == "utf-8":
            return _unmangled(as_utf8, declared)
        label = declared or "no charset"
        return Decoded(as_utf8, f"text labelled {label} is UTF-8; decoded as UTF-8")
    if codec is not None:
        try:
            return _unmangled(data.decode(codec), declared)
        except UnicodeDecodeError:
            pass
    detected = _detect(data)
    label = declared or "no charset"
    if detected is not None:
        try:
            text = data.decode(detected)
        except (UnicodeDecodeError, LookupError):
            text = None
        if text is not None:
            return Decoded(text, f"text labelled {label} did not decode; detected {detected}")
    return Decoded(
        data.decode(codec or "utf-8", errors="replace"),
        f"text labelled {label} did not decode; unreadable bytes replaced",
    )


def _unmangled(text: str, declared: str | None) -> Decoded:
    fixed = repair_mojibake(text)
    if fixed is None:
        return Decoded(text)
    return Decoded(fixed, f"text in {declared or 'no charset'} was encoded twice; repaired")


def decode_header_bytes(data: bytes, declared: str | None) -> str:
    """Decode one piece of a header (an encoded word or raw 8-bit bytes); never raises."""
    return decode_text(data, declared).text
