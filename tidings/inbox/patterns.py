"""Order ids and tracking numbers found in text by configurable regular expressions.

Order-id patterns come from each brand (``Brand.order_id_patterns``); tracking-number patterns
from ``InboxSettings.tracking_patterns``. A pattern with a capturing group contributes its first
group (so a pattern may require a keyword such as "AWB" without returning it), otherwise the
whole match. Results keep the order of first appearance, upper-cased, without repeats.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tidings.patterns import Pattern, compile_checked, finditer

# Scanning more than this of one email finds nothing new and costs time on giant bodies.
MAX_SCAN_CHARS = 200_000


SETTINGS = "the brands file's order_id_patterns or TIDINGS_INBOX__TRACKING_PATTERNS"


def _compiled(pattern: str | Pattern) -> Pattern:
    return compile_checked(pattern, setting=SETTINGS) if isinstance(pattern, str) else pattern


def compile_patterns(patterns: Iterable[str | Pattern]) -> tuple[Pattern, ...]:
    """Compile patterns once, raising ``ConfigError`` that names a broken or explosive one."""
    return tuple(_compiled(p) for p in patterns)


def find_all(text: str, patterns: Iterable[str | Pattern]) -> list[str]:
    """Every match of every pattern, in order of appearance, upper-cased, without repeats. Each
    pattern runs with a time limit (``tidings.patterns``)."""
    text = text[:MAX_SCAN_CHARS]
    found: list[tuple[int, str]] = []
    for pattern in patterns:
        regex = _compiled(pattern)
        for match in finditer(regex, text):
            group = 1 if regex.groups else 0
            value = match.group(group)
            if value:
                found.append((match.start(group), value.upper()))
    seen: dict[str, None] = {}
    for _, value in sorted(found, key=lambda item: item[0]):
        seen.setdefault(value, None)
    return list(seen)


def find_order_ids(text: str, patterns: Iterable[str | Pattern]) -> list[str]:
    """Order ids found by the brands' patterns."""
    return find_all(text, patterns)


def _shape(value: str) -> str:
    return re.sub(r"[A-Z]+", "A", re.sub(r"\d+", "9", value))


def _siblings(text: str, found: list[str]) -> list[str]:
    """Numbers issued in the same batch as one already found: same length, same letter/digit
    layout, same first third. Bulk notices name "AWB" once and then list many."""
    extra: list[str] = []
    for value in found:
        prefix = value[: max(3, len(value) // 3)]
        rest = len(value) - len(prefix)
        for match in re.finditer(rf"\b{re.escape(prefix)}[A-Z0-9]{{{rest}}}\b", text):
            candidate = match.group(0).upper()
            if _shape(candidate) == _shape(value):
                extra.append(candidate)
    return extra


def find_tracking_numbers(
    text: str,
    patterns: Iterable[str | Pattern],
    *,
    exclude: Iterable[str] = (),
) -> list[str]:
    """Tracking numbers found by the tracking patterns and their batch siblings, leaving out
    anything that is an order id (a brand's order numbers can look like a carrier's)."""
    text = text[:MAX_SCAN_CHARS]
    excluded = {value.upper() for value in exclude}
    found = [value for value in find_all(text, patterns) if value not in excluded]
    seen = dict.fromkeys(found)
    for value in _siblings(text.upper(), found):
        if value not in excluded:
            seen.setdefault(value, None)
    return list(seen)
