"""Regular expressions written by operators (brand order-id patterns, tracking patterns).

They run over untrusted email text, so a careless one is a denial of service: ``(a+)+$`` took
30 s on a single email. Each pattern is therefore compiled with the ``regex`` module (the same
syntax as ``re``) and checked at load against hostile probe strings, and every match runs with a
time limit: a pattern that runs out of time finds nothing in that text, and the email goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import regex

from tidings.errors import ConfigError
from tidings.logs import get_logger

log = get_logger(__name__)

MATCH_SECONDS = 0.05  # one pattern over one email; the patterns we ship take microseconds
PROBE_SECONDS = 0.05
PROBE_LENGTH = 3_000
Pattern = regex.Pattern[str]


def _probes(source: str) -> list[str]:
    """Texts that make backtracking patterns explode: long runs of what the pattern matches,
    then a character that makes the match fail at the very end."""
    alphabet = {ch for ch in source if ch.isalnum()} | set("aA1 -_.")
    runs = [ch * PROBE_LENGTH for ch in sorted(alphabet)]
    mixed = "".join(sorted(alphabet)) * (PROBE_LENGTH // max(len(alphabet), 1))
    return [run + tail for run in (*runs, mixed) for tail in ("!", "\n#")]


@lru_cache(maxsize=512)
def compile_checked(source: str, *, setting: str = "order_id_patterns") -> Pattern:
    """Compile ``source``, refusing a broken pattern or one that backtracks catastrophically."""
    try:
        compiled = regex.compile(source)
    except regex.error as exc:
        raise ConfigError(
            f"pattern {source!r} is not a valid regular expression ({exc}): fix {setting}"
        ) from exc
    for probe in _probes(source):
        try:
            compiled.search(probe, timeout=PROBE_SECONDS)
        except TimeoutError:
            raise ConfigError(
                f"pattern {source!r} takes too long on hostile text (nested repetition such as "
                f"(a+)+ backtracks without end): rewrite it in {setting}"
            ) from None
    return compiled


def finditer(pattern: Pattern, text: str) -> Iterator[regex.Match[str]]:
    """Matches of ``pattern`` in ``text``; none once the pattern has used its time."""
    try:
        yield from pattern.finditer(text, timeout=MATCH_SECONDS)
    except TimeoutError:
        log.warning("pattern ran out of time; skipped for this text", pattern=pattern.pattern)


def search(pattern: Pattern, text: str) -> regex.Match[str] | None:
    """The first match, or None (also when the pattern ran out of time)."""
    try:
        return pattern.search(text, timeout=MATCH_SECONDS)
    except TimeoutError:
        log.warning("pattern ran out of time; skipped for this text", pattern=pattern.pattern)
        return None
