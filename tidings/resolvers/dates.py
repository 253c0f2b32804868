"""Delivery days: the day a customer asks for, and the days a brand can offer."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

from dateparser.search import search_dates

_LANGUAGES = {"en", "hi", "id", "ms"}


def requested_day(written: str | None, text: str, today: date, language: str | None) -> date | None:
    """The day asked for: the extracted field, else what ``dateparser`` finds in the text (the
    last date it finds: people name what does not suit them first)."""
    if written:
        try:
            return date.fromisoformat(written)
        except ValueError:
            pass
    return _parsed_day(text[:2000], today, language if language in _LANGUAGES else "en")


@lru_cache(maxsize=256)
def _parsed_day(text: str, today: date, language: str) -> date | None:
    found = search_dates(
        text,
        languages=sorted({language, "en"}),
        settings={
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": datetime(today.year, today.month, today.day),
        },
    )
    future = [moment.date() for _, moment in found or [] if moment.date() >= today]
    return future[-1] if future else None


def delivery_days(after: date, count: int, weekdays: list[int], horizon_days: int) -> list[date]:
    """The first ``count`` delivery days after ``after``, within the brand's window."""
    days: list[date] = []
    day = after
    while len(days) < count and day < after + timedelta(days=horizon_days):
        day += timedelta(days=1)
        if day.weekday() in weekdays:
            days.append(day)
    return days
