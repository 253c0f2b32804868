"""Per-render state: the customer's locale and time zone, and the render's budget.

Filters read it from a context variable rather than from the template context, so a template
can neither see nor change it.
"""

from __future__ import annotations

import datetime as dt
import time
from contextvars import ContextVar
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.core import get_global
from babel.dates import format_date, format_datetime, format_time
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal

from tidings.errors import TemplateRenderError
from tidings.templates.contract import LOCALES, MAX_LOOP_ITERATIONS


@lru_cache(maxsize=16)
def locale_for(language: str) -> Locale:
    """The Babel locale of a supported language."""
    try:
        locale = Locale.parse(LOCALES[language])
    except KeyError:
        known = ", ".join(LOCALES)
        raise TemplateRenderError(
            f"language {language!r} is not supported; use one of {known}"
        ) from None
    _warm(locale)
    return locale


def _warm(locale: Locale) -> None:
    """Load the locale's CLDR data now, so the first render's time budget is not spent on it."""
    moment = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    format_datetime(moment, "medium", locale=locale)
    format_date(moment.date(), "EEEE", locale=locale)
    format_time(moment, "short", locale=locale)
    format_currency(Decimal("1"), "INR", locale=locale)
    format_decimal(1, locale=locale)
    format_list(["a", "b", "c"], locale=locale)
    locale.plural_form(1)
    get_global("currency_fractions")


@lru_cache(maxsize=256)
def zone_for(name: str) -> ZoneInfo:
    """The time zone called ``name`` (IANA, e.g. Asia/Kolkata)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TemplateRenderError(
            f"time zone {name!r} is unknown; use an IANA name such as Asia/Kolkata"
        ) from exc


class RenderState:
    """Locale, time zone and the spent budget of one render."""

    __slots__ = ("deadline", "iterations", "language", "locale", "zone")

    def __init__(self, *, language: str, time_zone: str, budget_s: float) -> None:
        self.language = language
        self.locale = locale_for(language)
        self.zone = zone_for(time_zone)
        self.deadline = time.monotonic() + budget_s  # after the (cached) loading above
        self.iterations = 0

    def tick(self) -> None:
        """Count one loop iteration; refuse the render past the iteration or time budget."""
        self.iterations += 1
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise TemplateRenderError(
                f"the template loops more than {MAX_LOOP_ITERATIONS:,} times in one render: "
                "loop over the order's items or a short range() instead"
            )
        if not self.iterations & 0x3F:
            self.check_time()

    def check_time(self) -> None:
        """Refuse the render once its time budget is spent."""
        if time.monotonic() > self.deadline:
            raise TemplateRenderError(
                "the template took too long to render: simplify its loops and filters"
            )


# The state of the render running in this thread (or task); None outside renders.
CURRENT: ContextVar[RenderState | None] = ContextVar("tidings_render_state", default=None)


def current() -> RenderState:
    """The running render's state."""
    state = CURRENT.get()
    if state is None:
        raise TemplateRenderError("locale filters only work while a template renders")
    return state
