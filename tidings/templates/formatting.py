"""Locale-aware filters through Babel: dates, times, money, plurals and lists.

Each filter takes ``context`` first (``pass_context``) so Jinja never folds it at compile time,
when no customer locale exists yet; the locale and time zone come from ``state.current()``.
Formatted values are cached: the same ETA or total is printed for many customers.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Final

from babel import Locale
from babel.lists import format_list
from babel.numbers import format_decimal
from jinja2 import pass_context
from jinja2.runtime import Context

from tidings.errors import TemplateRenderError
from tidings.templates.house import STYLES, date_text, datetime_text, money_text, plain, time_text
from tidings.templates.house import weekday_text as _weekday_text
from tidings.templates.state import current
from tidings.templates.variables import Money, Record

# CLDR puts a comma before "और" in Hindi lists; everyday Hindi writing (and our contract) does not.
_LIST_END_OVERRIDES: Final = {"hi": "{0} और {1}"}


def _style(style: Any) -> str:
    if style not in STYLES:
        raise TemplateRenderError(f"date style must be one of {', '.join(STYLES)}, got {style!r}")
    return str(style)


def _empty(filter_name: str) -> TemplateRenderError:
    return TemplateRenderError(
        f"{filter_name} got an empty value (none): this value is optional, so wrap it in "
        "{% if ... %}...{% endif %}"
    )


def _as_date(value: Any, filter_name: str) -> dt.date:
    if value is None:
        raise _empty(filter_name)
    if isinstance(value, dt.datetime):
        return value.astimezone(current().zone).date()
    if isinstance(value, dt.date):
        return value
    raise TemplateRenderError(f"{filter_name} needs a date, got {_describe(value)}")


def _as_datetime(value: Any, filter_name: str) -> dt.datetime:
    if value is None:
        raise _empty(filter_name)
    if not isinstance(value, dt.datetime):
        raise TemplateRenderError(
            f"{filter_name} needs a date and time such as order.placed_at, got {_describe(value)}"
        )
    return value


def _describe(value: Any) -> str:
    if isinstance(value, Record):
        return f"the group {value._path} (pick one of its fields)"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


@pass_context
def date_filter(_context: Context, value: Any, style: Any = "medium") -> str:
    """``{{ d | date }}``, ``{{ d | date("long") }}``: a date in the customer's locale."""
    state = current()
    return date_text(_as_date(value, "date"), _style(style), state.language)


@pass_context
def weekday_filter(_context: Context, value: Any) -> str:
    """``{{ d | weekday }}``: the day's name in the customer's locale."""
    return _weekday_text(_as_date(value, "weekday"), current().language)


@pass_context
def datetime_filter(_context: Context, value: Any, style: Any = "medium") -> str:
    """``{{ dt | datetime }}``: date and time in the customer's time zone and locale."""
    state = current()
    moment = _as_datetime(value, "datetime")
    return datetime_text(moment, _style(style), state.language, state.zone)


@pass_context
def time_filter(_context: Context, value: Any, style: Any = "short") -> str:
    """``{{ dt | time }}``: the time of day in the customer's time zone and locale."""
    state = current()
    moment = _as_datetime(value, "time")
    return time_text(moment, _style(style), state.language, state.zone)


@pass_context
def money_filter(_context: Context, value: Any) -> str:
    """``{{ m | money }}``: an amount with its currency in the customer's locale."""
    if value is None:
        raise _empty("money")
    if not isinstance(value, Money):
        raise TemplateRenderError(
            f"money needs an amount such as order.total, got {_describe(value)}"
        )
    return money_text(value.amount, value.currency, current().language)


@pass_context
def plural_filter(_context: Context, count: Any, one: Any, other: Any) -> str:
    """``{{ n | plural("{n} item", "{n} items") }}``: the CLDR plural rule picks the form."""
    if isinstance(count, bool) or not isinstance(count, int | float | Decimal):
        raise TemplateRenderError(f"plural needs a number, got {_describe(count)}")
    if not isinstance(one, str) or not isinstance(other, str):
        raise TemplateRenderError('plural needs two texts: plural("{n} item", "{n} items")')
    locale = current().locale
    # Decimal keeps CLDR's operands right: 1 is "one" in English, 1.0 is not.
    number = count if isinstance(count, Decimal) else Decimal(str(count))
    form = locale.plural_form(abs(number))
    text = one if form == "one" else other
    return text.replace("{n}", plain(format_decimal(count, locale=locale)))


def _list_text(items: tuple[str, ...], locale: Locale, language: str) -> str:
    if language in _LIST_END_OVERRIDES and len(items) > 2:
        return _LIST_END_OVERRIDES[language].format(", ".join(items[:-1]), items[-1])
    return plain(format_list(list(items), locale=locale))


@pass_context
def join_names_filter(_context: Context, values: Any) -> str:
    """``{{ items | join_names }}``: "A, B and C" in the customer's locale."""
    if values is None:
        raise _empty("join_names")
    if isinstance(values, str | Record) or not isinstance(values, tuple | list):
        raise TemplateRenderError(f"join_names needs a list of names, got {_describe(values)}")
    names = []
    for value in values:
        if isinstance(value, Record) and "name" in value._fields:
            value = value._fields["name"]  # order.items: join their names
        if not isinstance(value, str | int):
            raise TemplateRenderError(f"join_names needs names, got {_describe(value)}")
        names.append(str(value))
    state = current()
    return _list_text(tuple(names), state.locale, state.language)


def format_plain(value: Any) -> str | None:
    """Dates, datetimes and Money printed without a filter, in the customer's locale; None for
    anything else."""
    state = current()
    if isinstance(value, Money):
        return money_text(value.amount, value.currency, state.language)
    if isinstance(value, dt.datetime):
        return datetime_text(value, "medium", state.language, state.zone)
    if isinstance(value, dt.date):
        return date_text(value, "medium", state.language)
    return None


LOCALE_FILTERS: Final = {
    "date": date_filter,
    "weekday": weekday_filter,
    "datetime": datetime_filter,
    "time": time_filter,
    "money": money_filter,
    "plural": plural_filter,
    "join_names": join_names_filter,
}
