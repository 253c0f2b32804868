"""Order ids and tracking numbers found in text by configurable regular expressions.

Order-id patterns come from each brand (``Brand.order_id_patterns``); tracking-number patterns
from ``InboxSettings.tracking_patterns``. A pattern with a capturing group contributes its first
group (so a pattern may require a keyword such as "AWB" without returning it), otherwise the
whole match. Results keep the order of first appearance, upper-cased, without repeats.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from tidings.errors import ConfigError

# Scanning more than this of one email finds nothing new and costs time on giant bodies.
MAX_SCAN_CHARS = 200_000


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"pattern {pattern!r} is not a valid regular expression ({exc}): fix it in the "
            "brands file (order_id_patterns) or TIDINGS_INBOX__TRACKING_PATTERNS"
        ) from exc


def compile_patterns(patterns: Iterable[str | re.Pattern[str]]) -> tuple[re.Pattern[str], ...]:
    """Compile patterns once, raising ``ConfigError`` that names a broken one."""
    return tuple(p if isinstance(p, re.Pattern) else _compiled(p) for p in patterns)


def find_all(text: str, patterns: Iterable[str | re.Pattern[str]]) -> list[str]:
    """Every match of every pattern, in order of appearance, upper-cased, without repeats."""
    text = text[:MAX_SCAN_CHARS]
    found: list[tuple[int, str]] = []
    for pattern in patterns:
        regex = _compiled(pattern) if isinstance(pattern, str) else pattern
        for match in regex.finditer(text):
            group = 1 if regex.groups else 0
            value = match.group(group)
            if value:
                found.append((match.start(group), value.upper()))
    seen: dict[str, None] = {}
    for _, value in sorted(found, key=lambda item: item[0]):
        seen.setdefault(value, None)
    return list(seen)


def find_order_ids(text: str, patterns: Iterable[str | re.Pattern[str]]) -> list[str]:
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
    patterns: Iterable[str | re.Pattern[str]],
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
