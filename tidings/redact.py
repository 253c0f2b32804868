"""Masking of secrets and customer data in log text, whichever logger wrote it.

``redact`` is applied by ``tidings.logs`` to every record the root handlers emit and to every
structlog value. It masks credentials (Authorization headers, SendGrid and OpenAI keys, Twilio
auth tokens, ``api_key=``-style pairs, passwords in URLs), customers' contacts (email addresses,
E.164 numbers, plain or URL-encoded) and the request and response bodies SDKs dump.

Every pattern starts at a boundary (a lookbehind or a literal), so the cost stays linear in the
length of the text: a megabyte-long line cannot stall a worker.
"""

from __future__ import annotations

import re
from typing import NamedTuple

MASK = "[REDACTED]"
BODY_MASK = "[body redacted]"
EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"

_QUOTED = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_CREDENTIAL_NAMES = (
    r"api[_-]?key|x-api-key|access[_-]?token|auth[_-]?token|refresh[_-]?token|id[_-]?token"
    r"|client[_-]?secret|secret[_-]?key|secret|token|password|passwd|pwd"
)
_CONTENT_NAMES = r"body|text|html|content|value|subject|messages|prompt|input|payload|json_data"

_CONTENT_TRIGGERS = tuple(_CONTENT_NAMES.split("|"))


class _Rule(NamedTuple):
    """A pattern, its replacement, and substrings (lower case) without which it cannot match:
    most log lines hold none of them, and a substring test is far cheaper than a regex pass."""

    triggers: tuple[str, ...]
    pattern: re.Pattern[str]
    replacement: str


_RULES: tuple[_Rule, ...] = (
    # Bodies first: whatever they hold goes, whole.
    # An SDK's dump of a request or response: "PAYLOAD: b'...'" (SendGrid's client), "Request
    # options: {...}" (older openai), the rest of the line is the body.
    _Rule(
        ("payload", "request options", "request body", "response body"),
        re.compile(r"(?i)\b((?:payload|request options|request body|response body):\s*)\S.*"),
        rf"\1{BODY_MASK}",
    ),
    # A bytes literal of some length in a message is a wire body ("Response: 400 b'{...}'").
    _Rule(
        ("b'", 'b"'),
        re.compile(r"(?<![\w'\"])b(?:'(?:[^'\\]|\\.){16,}'|\"(?:[^\"\\]|\\.){16,}\")"),
        BODY_MASK,
    ),
    # Message text under a content key in JSON or a dict repr ("value": "Hey Asha, ...").
    _Rule(
        _CONTENT_TRIGGERS,
        re.compile(rf"""(?i)(['"](?:{_CONTENT_NAMES})['"]\s*:\s*){_QUOTED}"""),
        rf"\1'{BODY_MASK}'",
    ),
    # ... or in a form-encoded body (Twilio's Body=...&To=...).
    _Rule(
        _CONTENT_TRIGGERS,
        re.compile(rf"(?i)(?<![\w-])((?:{_CONTENT_NAMES})=)[^&\s]+"),
        rf"\1{BODY_MASK}",
    ),
    # Credentials.
    # Authorization headers, with their scheme: 'Authorization': 'Bearer SG.x', Authorization: Basic
    _Rule(
        ("authorization",),
        re.compile(
            r"(?i)(\b(?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?)"
            r"(?:(?:bearer|basic|token|digest)\s+)?[^\s'\",;}]+"
        ),
        rf"\1{MASK}",
    ),
    # A bearer or basic credential elsewhere; a basic one has a digit or a symbol, unlike the
    # English word after "basic" in a sentence.
    _Rule(("bearer",), re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    _Rule(
        ("basic",),
        re.compile(r"(?i)\b(basic)\s+(?=[A-Za-z]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}"),
        rf"\1 {MASK}",
    ),
    # name=value and "name": "value" pairs whose name says secret.
    _Rule(
        ("key", "token", "secret", "passw", "pwd"),
        re.compile(
            rf"(?i)(?<![\w-])((?:{_CREDENTIAL_NAMES})['\"]?\s*[:=]\s*['\"]?)[^\s'\",;&}}\]]+"
        ),
        rf"\1{MASK}",
    ),
    # SendGrid API keys: SG.<id>.<secret>.
    _Rule(("sg.",), re.compile(r"(?<![\w.])SG\.[\w-]{8,}(?:\.[\w-]{8,})?"), MASK),
    # OpenAI-style keys: sk-..., sk-proj-...
    _Rule(("sk-",), re.compile(r"(?<![\w-])sk-[\w-]{16,}"), MASK),
    # Twilio auth tokens (32 hex digits on their own; SIDs like SM<32 hex> are not matched).
    _Rule((), re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{32}(?![0-9A-Za-z])"), MASK),
    # Passwords in URLs: scheme://user:password@host.
    _Rule(("://",), re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@]*:)[^\s/@]+@"), rf"\1{MASK}@"),
    # Customers' contacts.
    # Email addresses, with a plain or URL-encoded @.
    _Rule(
        ("@", "%40"),
        re.compile(
            r"(?<![\w.%+-])[\w.%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
            r"(?![\w-])"
        ),
        EMAIL_MASK,
    ),
    # E.164 numbers, plain, URL-encoded (%2B) or with single spaces or hyphens between digits.
    _Rule(
        ("+", "%2b"), re.compile(r"(?<![\w+])(?:\+|%2[Bb])[1-9](?:[ -]?\d){6,14}(?!\d)"), PHONE_MASK
    ),
)


def redact(text: str) -> str:
    """``text`` with credentials, email addresses, phone numbers and wire bodies masked."""
    lowered = text.lower()
    for rule in _RULES:
        if not rule.triggers or any(trigger in lowered for trigger in rule.triggers):
            text = rule.pattern.sub(rule.replacement, text)
    return text
