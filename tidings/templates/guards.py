"""Resource guards: every way a template can make a value bigger is checked before it happens.

A short template can otherwise ask for gigabytes (``'x' * 10**9``, ``9 ** 9 ** 9``, a chain of
``{% set a = a ~ a %}``) or for billions of loop turns (nested loops over literal lists). The
sandbox routes operators, ``~``, loops, method calls, printing and the few growing filters
through these functions, so no single step can build more than ``MAX_VALUE_CHARS`` characters
or ``MAX_SEQUENCE_ITEMS`` items and all loops together turn at most ``MAX_LOOP_ITERATIONS`` times.
"""

from __future__ import annotations

import datetime as dt
import operator
import types
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any, Final

from jinja2 import pass_context
from jinja2.runtime import Context, LoopContext, Undefined

from tidings.errors import TemplateRenderError
from tidings.templates.contract import (
    MAX_INT_BITS,
    MAX_OUTPUT_CHARS,
    MAX_SEQUENCE_ITEMS,
    MAX_VALUE_CHARS,
)
from tidings.templates.formatting import format_plain
from tidings.templates.state import CURRENT
from tidings.templates.variables import Money, Record

# Filters the AST rewrite inserts; the names cannot collide with the contract's filters.
ITER_GUARD: Final = "_tidings_loop"
CONCAT_GUARD: Final = "_tidings_concat"
PRINT_GUARD: Final = "_tidings_print"

# str methods a template may call: none of them can grow a value much.
SAFE_STR_METHODS: Final = frozenset(
    {
        "capitalize",
        "casefold",
        "count",
        "endswith",
        "find",
        "isalnum",
        "isalpha",
        "isdigit",
        "islower",
        "isspace",
        "isupper",
        "lower",
        "lstrip",
        "rstrip",
        "split",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
    }
)
SAFE_LOOP_METHODS: Final = frozenset({"cycle", "changed"})

_NUMBER = (int, float, Decimal)


def _too_long(what: str) -> TemplateRenderError:
    return TemplateRenderError(
        f"{what} would be longer than {MAX_VALUE_CHARS:,} characters: templates are for short "
        "messages"
    )


def _too_many(what: str) -> TemplateRenderError:
    return TemplateRenderError(f"{what} would have more than {MAX_SEQUENCE_ITEMS:,} items")


def _check_size(value: Any, what: str) -> Any:
    if isinstance(value, str):
        if len(value) > MAX_VALUE_CHARS:
            raise _too_long(what)
    elif isinstance(value, list | tuple | dict) and len(value) > MAX_SEQUENCE_ITEMS:
        raise _too_many(what)
    return value


def _int_like(value: Any) -> bool:
    return isinstance(value, int)  # bool included: True * 'x' is as cheap as 1 * 'x'


def guarded_binop(
    op: str, left: Any, right: Any, table: dict[str, Callable[[Any, Any], Any]]
) -> Any:
    """Run ``left op right`` after making sure the result stays small."""
    if op == "%" and isinstance(left, str):
        raise TemplateRenderError(
            "%-formatting is not allowed in templates: write the text around {{ }} instead"
        )
    if op == "*":
        _check_product(left, right)
    elif op == "**":
        _check_power(left, right)
    elif (
        op == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple)
    ):
        _check_size_of(len(left) + len(right), left, "joining these values")
    return table[op](left, right)


def _check_size_of(size: int, sample: Any, what: str) -> None:
    if isinstance(sample, str):
        if size > MAX_VALUE_CHARS:
            raise _too_long(what)
    elif size > MAX_SEQUENCE_ITEMS:
        raise _too_many(what)


def _check_product(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and _int_like(times):
            _check_size_of(len(seq) * max(int(times), 0), seq, "repeating this value")
            return
    if (
        _int_like(left)
        and _int_like(right)
        and (int(left).bit_length() + int(right).bit_length() > MAX_INT_BITS)
    ):
        raise TemplateRenderError("this multiplication makes a number too large for a message")


def _check_power(base: Any, exponent: Any) -> None:
    if (
        _int_like(base)
        and _int_like(exponent)
        and exponent > 0
        and abs(base) > 1
        and (int(base).bit_length() * int(exponent) > MAX_INT_BITS)
    ):
        raise TemplateRenderError("this power makes a number too large for a message")
    if isinstance(exponent, float | Decimal) and abs(float(exponent)) > MAX_INT_BITS:
        raise TemplateRenderError("this power makes a number too large for a message")


def finalize(value: Any) -> str:
    """Every ``{{ }}`` ends here: a cooperative time check, then ``printable``."""
    state = CURRENT.get()
    if state is not None:
        state.check_time()
    return printable(value)


def printable(value: Any) -> str:
    """What ``{{ value }}`` prints: text and numbers as they are, dates and money in the
    customer's locale; none, lists and groups are refused with the fix."""
    if type(value) is str:
        if len(value) > MAX_OUTPUT_CHARS:
            raise _too_long("this value")
        return value
    if value is None:
        raise TemplateRenderError(
            "a value printed here is empty (none) for some messages: it is optional, so wrap it "
            "in {% if ... %}...{% endif %}"
        )
    if isinstance(value, Undefined):
        return str(value)  # StrictUndefined raises with the variable's name
    if isinstance(value, str):
        return printable(str(value))
    if isinstance(value, _NUMBER):
        return str(value)
    if isinstance(value, Money | dt.date):
        return printable(format_plain(value))
    if isinstance(value, Record):
        raise TemplateRenderError(
            f"{value._path} is a group of values: print one of its fields "
            f"({', '.join(value._fields)})"
        )
    if isinstance(value, tuple | list):
        raise TemplateRenderError("a list cannot be printed as it is: use | join_names")
    raise TemplateRenderError(f"a {type(value).__name__} cannot be printed in a message")


@pass_context
def guard_print(_context: Context, value: Any, path: str) -> Any:
    """``{{ a.b }}``: refuse none with the variable's name; ``printable`` does the rest."""
    if value is None:
        raise TemplateRenderError(
            f"{path} is empty (none) for some messages: it is optional, so wrap it in "
            f"{{% if {path} %}}...{{% endif %}}"
        )
    return value


@pass_context
def guard_concat(_context: Context, parts: list[Any]) -> str:
    """``a ~ b``: join as text, refusing a result past the size limit before building it."""
    texts = [printable(part) if type(part) is not str else part for part in parts]
    if sum(len(text) for text in texts) > MAX_VALUE_CHARS:
        raise _too_long("joining these values with ~")
    return "".join(texts)


def _counted(items: Iterable[Any]) -> Iterator[Any]:
    state = CURRENT.get()
    for item in items:
        if state is not None:
            state.tick()
        yield item


@pass_context
def guard_loop(_context: Context, value: Any) -> Iterator[Any]:
    """Every ``{% for %}`` iterates through this: each turn counts against the render's budget."""
    return _counted(iter(value))


def guarded_join(value: Any, d: Any = "", attribute: Any = None) -> str:
    """``join``: like Jinja's, refusing a result past the size limit before building it."""
    if attribute is not None:
        raise TemplateRenderError(
            "join(attribute=...) is not supported: use map(attribute=...) first"
        )
    separator = printable(d) if d != "" else ""
    items = list(_take(value, "join"))
    texts = [printable(item) for item in items]
    if sum(map(len, texts)) + len(separator) * max(len(texts) - 1, 0) > MAX_VALUE_CHARS:
        raise _too_long("join")
    return separator.join(texts)


def guarded_replace(value: Any, old: Any, new: Any, count: Any = None) -> str:
    """``replace``: refuses a result past the size limit before building it."""
    text, old_text, new_text = (printable(part) for part in (value, old, new))
    occurrences = text.count(old_text) if old_text else len(text) + 1
    if count is not None:
        if not _int_like(count):
            raise TemplateRenderError("replace's count must be a whole number")
        occurrences = min(occurrences, max(int(count), 0))
    if len(text) + occurrences * (len(new_text) - len(old_text)) > MAX_VALUE_CHARS:
        raise _too_long("replace")
    return text.replace(old_text, new_text, -1 if count is None else max(int(count), 0))


def guarded_sum(value: Any, attribute: Any = None, start: Any = 0) -> Any:
    """``sum`` of numbers only: adding lists or text together is refused."""
    if attribute is not None:
        raise TemplateRenderError(
            "sum(attribute=...) is not supported: use map(attribute=...) first"
        )
    items = list(_take(value, "sum"))
    if not all(isinstance(item, _NUMBER) for item in [*items, start]):
        raise TemplateRenderError("sum adds numbers only")
    return sum(items, start)


def _take(value: Any, what: str) -> Iterator[Any]:
    for index, item in enumerate(value):
        if index >= MAX_SEQUENCE_ITEMS:
            raise _too_many(what)
        yield item


def bounded_range(*args: Any) -> range:
    """``range()``: at most ``MAX_SEQUENCE_ITEMS`` numbers."""
    if not all(_int_like(arg) for arg in args):
        raise TemplateRenderError("range() takes whole numbers")
    numbers = range(*args)
    if len(numbers) > MAX_SEQUENCE_ITEMS:
        raise TemplateRenderError(f"range() may give at most {MAX_SEQUENCE_ITEMS:,} numbers")
    return numbers


def is_allowed_call(obj: Any) -> bool:
    """Whether a template may call ``obj``: range(), loop.cycle/changed, a few str methods."""
    if obj is bounded_range:
        return True
    if isinstance(obj, types.BuiltinMethodType):
        return isinstance(obj.__self__, str) and obj.__name__ in SAFE_STR_METHODS
    if isinstance(obj, types.MethodType):
        return isinstance(obj.__self__, LoopContext) and obj.__name__ in SAFE_LOOP_METHODS
    return False


def describe_callable(obj: Any) -> str:
    """A short name for a refused callable, for the error message."""
    name = getattr(obj, "__name__", None)
    return f"{name}()" if isinstance(name, str) else "this value"


BINOPS: Final = frozenset({"+", "*", "**", "%"})
BINOP_TABLE: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "**": operator.pow,
    "%": operator.mod,
}
