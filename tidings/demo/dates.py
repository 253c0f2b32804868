"""Sample emails arrive "now": their Date headers move forward by one offset.

The samples were written in November 2026 and say "tomorrow", "Tuesday" or "since the 18th";
the demo's orders are generated relative to today. Moving every sample by the same offset keeps
their order and spacing, so the newest arrives an hour ago and relative dates mean what their
writers meant.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

_DATE = re.compile(rb"^Date:[ \t]*(.+?)\r?$", re.MULTILINE | re.IGNORECASE)


def sent_at(raw: bytes) -> datetime | None:
    """The Date header, or None when there is none (or it does not parse)."""
    head = raw.split(b"\n\n", 1)[0]
    found = _DATE.search(head)
    if found is None:
        return None
    try:
        return parsedate_to_datetime(found.group(1).decode("ascii", "replace"))
    except (TypeError, ValueError):
        return None


def shifted(raw: bytes, offset: timedelta) -> bytes:
    """The email with its Date header moved by ``offset`` (its own time zone kept)."""
    when = sent_at(raw)
    if when is None:
        return raw
    new = format_datetime(when + offset).encode("ascii")
    head, sep, body = raw.partition(b"\n\n")
    return (
        _DATE.sub(
            lambda m: b"Date: " + new + (b"\r" if m.group(0).endswith(b"\r") else b""),
            head,
            count=1,
        )
        + sep
        + body
    )


def offset_to_now(
    raws: list[bytes], now: datetime, lead: timedelta = timedelta(hours=1)
) -> timedelta:
    """How far to move the samples so the newest arrived ``lead`` ago."""
    dates = [d for d in map(sent_at, raws) if d is not None]
    return (now - lead) - max(dates) if dates else timedelta(0)
