"""Channel limits: SMS segments (GSM-7 or UCS-2), WhatsApp length, email subject, links, HTML."""

from __future__ import annotations

import math
import re
from typing import Final, NamedTuple

from tidings.templates.contract import (
    EMAIL_SUBJECT_MAX_CHARS,
    SMS_MAX_SEGMENTS,
    WHATSAPP_MAX_CHARS,
)

# GSM 03.38: the basic table (one septet each) and the extension table (escape + one septet).
GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION: Final = frozenset("^{}\\[~]|€\f")

INSECURE_LINK: Final = re.compile(r"\bhttp://[^\s\"'<>]*", re.IGNORECASE)
RAW_HTML: Final = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]*)?/?>|<!--|&[a-zA-Z]+;|&#\d+;")


class SmsSize(NamedTuple):
    """How an SMS is encoded and billed."""

    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    first_unicode: str | None  # the first character that forced UCS-2


def sms_size(text: str) -> SmsSize:
    """Encoding, length and segment count as carriers bill it (153/67 per part when split)."""
    forcing = next((ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION), None)
    if forcing is None:
        units = len(text) + sum(1 for ch in text if ch in GSM7_EXTENSION)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else math.ceil(units / part)
    return SmsSize(encoding, units, segments, forcing)


def sms_problem(text: str) -> str | None:
    """Why an SMS is too long, with the fix; None when it fits."""
    size = sms_size(text)
    if size.segments <= SMS_MAX_SEGMENTS:
        return None
    budget = SMS_MAX_SEGMENTS * (153 if size.encoding == "GSM-7" else 67)
    why = ""
    if size.first_unicode is not None:
        why = f" (UCS-2, because of {size.first_unicode!r}: Hindi, emoji and curly quotes do that)"
    return (
        f"the SMS takes {size.segments} segments with sample data{why}; the limit is "
        f"{SMS_MAX_SEGMENTS}: shorten it by about {size.units - budget} characters"
    )


def whatsapp_problem(text: str) -> str | None:
    """Why a WhatsApp message is too long; None when it fits."""
    if len(text) <= WHATSAPP_MAX_CHARS:
        return None
    return (
        f"the WhatsApp message is {len(text):,} characters with sample data; the limit is "
        f"{WHATSAPP_MAX_CHARS:,}: shorten it by {len(text) - WHATSAPP_MAX_CHARS} characters"
    )


def subject_problem(text: str) -> str | None:
    """Why an email subject does not work; None when it does."""
    if "\n" in text:
        return "the subject must be one line: remove the line break"
    if len(text) > EMAIL_SUBJECT_MAX_CHARS:
        return (
            f"the subject is {len(text)} characters with sample data; the limit is "
            f"{EMAIL_SUBJECT_MAX_CHARS}: shorten it by {len(text) - EMAIL_SUBJECT_MAX_CHARS}"
        )
    if not text.strip():
        return "the subject is empty"
    return None


def text_problems(text: str) -> list[tuple[int, str]]:
    """Insecure links and raw HTML in a text, as (line, message) pairs."""
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in INSECURE_LINK.finditer(line):
            problems.append(
                (
                    number,
                    f"link {match.group(0)} must use https:// (write https://{match.group(0)[7:]})",
                )
            )
        for match in RAW_HTML.finditer(line):
            problems.append(
                (
                    number,
                    f"raw HTML {match.group(0)} is not allowed: write plain text, the HTML part "
                    "of an email is made from it",
                )
            )
    return problems
