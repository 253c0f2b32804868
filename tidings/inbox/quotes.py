"""Split a body into the author's new text, the quoted thread, a signature and forwarded text.

Reply headers ("On ... wrote:", "Pada ... menulis:", "... ने लिखा:", Outlook "From:/Sent:"
blocks in English, Indonesian, Malay and Hindi) are matched here first. ``mail-parser-reply``
does not know Hindi, Indonesian or Malay; it runs as the fallback for header shapes these
expressions miss, on text that has a header-like line and no header found yet. Its signature
detection is not used: it cuts a body at any line starting with "Thanks," or "- ", which loses
customers' words. Signatures are cut only where the evidence is strong: an RFC 3676 ``-- `` line,
a "Sent from my phone" footer, or a short closing block after a sign-off line. Forwarded text is
never dropped: a forwarded carrier notice is exactly what the classifier must read.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from mailparser_reply.parser import EmailMessage as ReplyParser

# Of the languages mail-parser-reply knows, only English is written in these inboxes (and by
# most mail clients in India, Malaysia and Indonesia); each extra language costs time on every
# email with a header-like line.
REPLY_LANGUAGES = ["en"]
_FWD_WORDS = (
    r"forwarded message|forwarded e-?mail|pesan (?:yang )?diteruskan|pesan terusan|"
    r"e-?mail (?:yang )?diteruskan|mesej (?:yang )?dimajukan|e-?mel (?:yang )?dimajukan|"
    r"अग्रेषित संदेश|फ़ॉरवर्ड किया गया संदेश|फॉरवर्ड किया गया संदेश|weitergeleitete nachricht|"
    r"message transféré"
)
_ORIGINAL_WORDS = r"original message|pesan asli|mesej asal|मूल संदेश|ursprüngliche nachricht"
FORWARD_MARKER = re.compile(
    rf"^[ \t]*(?:-{{2,}}|_{{2,}}|={{2,}})[ \t]*(?:{_FWD_WORDS})[ \t]*(?:-{{2,}}|_{{2,}}|={{2,}})?"
    rf"[ \t]*$|^[ \t]*(?:begin forwarded message|awal pesan yang diteruskan)[ \t]*:[ \t]*$"
    rf"|^[ \t]*-{{3,}}[ \t]*forwarded by\b.*$",
    re.IGNORECASE | re.MULTILINE,
)
ORIGINAL_MARKER = re.compile(
    rf"^[ \t]*-{{2,}}[ \t]*(?:{_ORIGINAL_WORDS})[ \t]*-{{2,}}[ \t]*$", re.IGNORECASE | re.MULTILINE
)
FORWARD_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:fwd?|fw|tr|wg|rv|enc|terusan|trs|fwd?\s*\(\d+\))\s*:", re.IGNORECASE
)
# Outlook-style header blocks, in the languages the library does not know.
_FROM = r"(?:from|dari|daripada|प्रेषक|से)"
_SENT = r"(?:sent|date|dikirim|tanggal|dihantar|tarikh|भेजा गया|दिनांक)"
_TO_SUBJECT = r"(?:to|kepada|subject|subjek|perihal|प्रति|को|विषय)"
HEADER_BLOCK = re.compile(
    rf"^[ \t*]*{_FROM}[ \t*]*:.*\n(?:[ \t*]*\S[^\n]*\n){{0,1}}[ \t*]*{_SENT}[ \t*]*:.*\n"
    rf"(?:[^\n]*\n){{0,3}}?[ \t*]*{_TO_SUBJECT}[ \t*]*:",
    re.IGNORECASE | re.MULTILINE,
)
LOCAL_WROTE = re.compile(
    r"^(?:> ?)*(?:pada|on)\b[^\n]{3,250}(?:\n[^\n]{0,200})?\b(?:menulis|wrote)\s*:[ \t]*$"
    r"|^(?:> ?)*[^\n]{3,250}(?:\n[^\n]{0,200})?ने\s+लिखा\s*:[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
OUTLOOK_SEPARATOR = re.compile(r"^[ \t]*_{20,}[ \t]*$", re.MULTILINE)
_FROM_LINE = re.compile(
    r"^[ \t*>]*(?:from|von|de|da|van|från|fra|od|dari|daripada|प्रेषक)[ \t*]*:", re.I | re.M
)
SENT_FROM = re.compile(
    r"^[ \t]*(?:sent from (?:my|yahoo|mail|outlook|gmail|the)\b.*|get outlook for .*|sent via .*"
    r"|sent with .*|dikirim(?:kan)? (?:dari|melalui) .*|dihantar (?:dari|melalui) .*"
    r"|(?:मेरे )?.*से भेजा गया)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
SIGN_OFF = re.compile(
    r"^[ \t]*(?:(?:best|kind|warm|warmest|many|with)?\s*(?:regards|thanks|thank you|wishes)"
    r"|thanks (?:&|and) regards|best|cheers|sincerely|yours (?:sincerely|truly|faithfully)"
    r"|thx|terima ?kasih(?: banyak)?|trims|makasih|tq|salam(?: hormat| hangat| sejahtera)?"
    r"|hormat (?:saya|kami)|wassalam|yang benar|sekian|धन्यवाद|सादर|शुक्रिया|dhanyavaa?d|shukriya)"
    r"(?:[ \t]+(?:so much|a lot|again|in advance|ya|kak|sir|ji|banyak))?[^\w\n]{0,12}$",
    re.IGNORECASE | re.MULTILINE,
)
SIGNATURE_DASHES = re.compile(r"^-- ?$", re.MULTILINE)
MAX_SIGNATURE_LINES = 6


class Split(NamedTuple):
    """The parts of one body."""

    author: str
    quoted: str = ""
    signature: str = ""
    forwarded: str = ""


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n"))


def split_body(text: str, *, subject: str = "") -> Split:
    """Split a plain-text body (HTML already turned into text) into its parts."""
    text = _normalise(text)
    forward_at = _forward_start(text, is_forward=bool(FORWARD_SUBJECT.match(subject)))
    reply_at = _reply_start(text if forward_at is None else text[:forward_at])
    forwarded = ""
    if forward_at is not None and (reply_at is None or forward_at <= reply_at):
        text, forwarded = text[:forward_at], text[forward_at:].strip()
    quoted = ""
    if reply_at is not None and reply_at < len(text):
        text, quoted = text[:reply_at], text[reply_at:].strip()
    text, inline_quotes = _drop_quoted_lines(text)
    quoted = "\n".join(part for part in (inline_quotes, quoted) if part)
    author, signature = _cut_signature(text.strip())
    return Split(author=author, quoted=quoted, signature=signature, forwarded=forwarded)


def _forward_start(text: str, *, is_forward: bool) -> int | None:
    """Where an inline-forwarded message starts, if the text has one."""
    candidates = [m.start() for m in (FORWARD_MARKER.search(text),) if m]
    if is_forward:
        # "FW:" subjects: Outlook forwards with a bare header block or an "Original Message"
        # line, the same shapes it uses for replies.
        for pattern in (ORIGINAL_MARKER, OUTLOOK_SEPARATOR, HEADER_BLOCK):
            match = pattern.search(text)
            if match:
                candidates.append(match.start())
        library = None if candidates else _library_header(text)
        if library is not None:
            candidates.append(library)
    return min(candidates) if candidates else None


def _reply_start(text: str) -> int | None:
    """Where the quoted thread of a reply starts, if the text has one."""
    candidates = []
    # The "wrote" pattern scans far from every line start: only run it when its words are there.
    lowered = text.lower()
    wrote = "wrote" in lowered or "menulis" in lowered or "लिखा" in text
    for pattern in (LOCAL_WROTE, HEADER_BLOCK, ORIGINAL_MARKER):
        if pattern is LOCAL_WROTE and not wrote:
            continue
        match = pattern.search(text)
        if match:
            candidates.append(match.start())
    separator = OUTLOOK_SEPARATOR.search(text)
    if separator and _FROM_LINE.search(text, separator.end(), separator.end() + 300):
        candidates.append(separator.start())
    if not candidates:
        library = _library_header(text)
        if library is not None:
            candidates.append(library)
    return min(candidates) if candidates else None


# Every header mail-parser-reply knows contains one of these; text without any is not sent
# through its (slow, many-language) expressions at all.
_LIBRARY_WORDS = ("wrote", "original message")
_LIBRARY_LABELS = re.compile(
    r"^[ \t>*]*(?:from|sent|date|to|subject|cc)[ \t*]*:", re.IGNORECASE | re.MULTILINE
)


def _has_library_cue(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _LIBRARY_WORDS) or bool(_LIBRARY_LABELS.search(text))


def _library_header(text: str) -> int | None:
    """Position of the first reply header mail-parser-reply recognises."""
    if not _has_library_cue(text):
        return None
    parsed = ReplyParser(text=text, languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True)
    for reply in parsed.read().replies:
        header = reply.headers
        if not header:
            continue
        # Its Outlook pattern accepts any two "Date:/To:" lines, which carrier notices have in
        # their bodies; a real reply header block names who it is from.
        if re.match(r"[ \t*>]*\w+[ \t*]*:", header) and not _FROM_LINE.search(header):
            continue
        at = _locate(text, header)
        if at is not None:
            return at
    return None


def _locate(text: str, header: str) -> int | None:
    # The library strips every line before matching; find the header's first line in our text.
    first = header.split("\n", 1)[0].strip()
    if not first:
        return None
    for match in re.finditer(re.escape(first), text):
        return match.start() - (match.start() - text.rfind("\n", 0, match.start()) - 1)
    return None


def _drop_quoted_lines(text: str) -> tuple[str, str]:
    kept: list[str] = []
    quoted: list[str] = []
    for line in text.split("\n"):
        (quoted if line.lstrip().startswith(">") else kept).append(line)
    return "\n".join(kept), "\n".join(quoted).strip()


def _cut_signature(text: str) -> tuple[str, str]:
    """(author text, signature) with the signature cut only on strong evidence."""
    cut = None
    dashes = list(SIGNATURE_DASHES.finditer(text))
    if dashes and text[dashes[-1].end() :].count("\n") <= 15:
        cut = dashes[-1].start()
    footer = SENT_FROM.search(text)
    if footer and text[footer.end() :].count("\n") <= 3:
        cut = footer.start() if cut is None else min(cut, footer.start())
    head = text if cut is None else text[:cut].rstrip()
    sign_off = _sign_off_start(head)
    if sign_off is not None:
        cut = sign_off
    if cut is None or not text[:cut].strip():
        return text, ""
    return text[:cut].rstrip(), text[cut:].strip()


def _sign_off_start(text: str) -> int | None:
    """Start of a closing like "Thanks,\\nAsha" at the very end, or None."""
    matches = list(SIGN_OFF.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    tail = [line for line in text[last.end() :].split("\n") if line.strip()]
    if len(tail) > MAX_SIGNATURE_LINES or any(len(line) > 60 for line in tail):
        return None
    return last.start()
