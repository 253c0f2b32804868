"""What customers see, pinned: date, time and money patterns per language.

CLDR changes between Babel releases: Babel 2.19 writes "10:30 AM" where 2.17 wrote "10:30 am",
prints Indonesian short dates as 8/12/26 instead of 08/12/26, and drops the rupiah's decimals
("Rp307.000" for Rp307.000,50). A brand's messages must not change because a library was
upgraded, so the patterns, the am/pm words and the number of decimals are ours. Babel still
supplies month and day names, digits and separators. ``make test-latest`` shows any drift in
those before customers meet it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import parse_pattern

from tidings.templates.contract import FALLBACK_LANGUAGE, LOCALES

STYLES: Final = ("short", "medium", "long", "full")

DATE_PATTERNS: Final[dict[str, dict[str, str]]] = {
    "en": {"short": "dd/MM/yy", "medium": "d MMM y", "long": "d MMMM y", "full": "EEEE, d MMMM y"},
    "hi": {"short": "d/M/yy", "medium": "d MMM y", "long": "d MMMM y", "full": "EEEE, d MMMM y"},
    "id": {"short": "dd/MM/yy", "medium": "d MMM y", "long": "d MMMM y", "full": "EEEE, dd MMMM y"},
    "ms": {"short": "d/MM/yy", "medium": "d MMM y", "long": "d MMMM y", "full": "EEEE, d MMMM y"},
}
# ``a`` marks where the day period goes; it is replaced by the words below, quoted.
_TWELVE_HOUR: Final = {
    "short": "h:mm a",
    "medium": "h:mm:ss a",
    "long": "h:mm:ss a z",
    "full": "h:mm:ss a zzzz",
}
TIME_PATTERNS: Final[dict[str, dict[str, str]]] = {
    "en": _TWELVE_HOUR,
    "hi": _TWELVE_HOUR,
    "id": {"short": "HH.mm", "medium": "HH.mm.ss", "long": "HH.mm.ss z", "full": "HH.mm.ss zzzz"},
    "ms": _TWELVE_HOUR,
}
# Indian English writes "10:30 am"; Malay writes PG (pagi) and PTG (petang).
DAY_PERIODS: Final = {
    "en": ("am", "pm"),
    "hi": ("am", "pm"),
    "id": ("AM", "PM"),
    "ms": ("PG", "PTG"),
}
DATETIME_JOINS: Final = {"en": "{date}, {time}", "hi": "{date}, {time}", "id": "{date} {time}"}
# Indian grouping (1,49,900.00) for the Indian locales.
MONEY_PATTERNS: Final = {
    "en": "¤#,##,##0.00",
    "hi": "¤#,##,##0.00",
    "id": "¤#,##0.00",
    "ms": "¤#,##0.00",
}
# Rupiah is paid in whole amounts: Rp307.000, but Rp307.000,50 when an amount has a fraction.
WHOLE_WHEN_INTEGRAL: Final = frozenset({"IDR", "JPY", "KRW", "VND"})


def _language(language: str) -> str:
    return language if language in LOCALES else FALLBACK_LANGUAGE


@lru_cache(maxsize=16)
def _locale(language: str) -> Locale:
    return Locale.parse(LOCALES[_language(language)])


def plain(text: str) -> str:
    """CLDR puts no-break spaces in times and amounts; they are not GSM-7, so one would turn a
    whole SMS into UCS-2 and halve what a segment holds. Plain spaces read the same."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


@lru_cache(maxsize=4096)
def date_text(value: dt.date, style: str, language: str) -> str:
    """A date in the house pattern of ``style`` (short, medium, long, full)."""
    lang = _language(language)
    return plain(format_date(value, DATE_PATTERNS[lang][style], locale=_locale(lang)))


@lru_cache(maxsize=4096)
def weekday_text(value: dt.date, language: str) -> str:
    """The day's name."""
    return plain(format_date(value, "EEEE", locale=_locale(language)))


def time_text(moment: dt.datetime, style: str, language: str, zone: ZoneInfo) -> str:
    """The time of day in ``zone``, with the house's am/pm words."""
    lang = _language(language)
    local = moment.astimezone(zone)
    am, pm = DAY_PERIODS[lang]
    pattern = TIME_PATTERNS[lang][style].replace("a", f"'{am if local.hour < 12 else pm}'")
    return plain(format_time(local, pattern, tzinfo=zone, locale=_locale(lang)))


def datetime_text(moment: dt.datetime, style: str, language: str, zone: ZoneInfo) -> str:
    """Date and time in ``zone``, joined the house way."""
    lang = _language(language)
    day = date_text(moment.astimezone(zone).date(), style, lang)
    join = DATETIME_JOINS.get(lang, "{date}, {time}")
    return join.format(date=day, time=time_text(moment, style, lang, zone))


@lru_cache(maxsize=64)
def _money_pattern(language: str, decimals: bool) -> object:
    pattern = MONEY_PATTERNS[_language(language)]
    return parse_pattern(pattern if decimals else pattern.removesuffix(".00"))


@lru_cache(maxsize=4096)
def money_text(amount: Decimal, currency: str, language: str) -> str:
    """An amount with its currency sign: two decimals, none for whole rupiah (and yen...)."""
    whole = currency in WHOLE_WHEN_INTEGRAL and amount == amount.to_integral_value()
    pattern = _money_pattern(language, not whole)
    text: str = pattern.apply(  # type: ignore[attr-defined]  # babel's NumberPattern
        amount, _locale(language), currency=currency, currency_digits=False
    )
    return plain(text)
