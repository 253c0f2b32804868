"""The sandbox brand managers' templates render in.

Layers, from the outside in:
- source length is capped and only a small set of Jinja constructs parses (``restrict.py``: no
  include, import, extends, macros, block sets or recursive loops);
- ``ImmutableSandboxedEnvironment`` refuses underscore and internal attributes and mutation;
  ``StrictUndefined`` turns every unknown name into an error;
- calls are limited to range(), loop.cycle/changed and a few str methods; operators, ``~``,
  loops, printing and the growing filters go through ``guards`` (bounded values and loops);
- the output is capped while it streams, and the watchdog stops a render past its time budget.
Every failure leaves as ``TemplateRenderError`` with the template line when known.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from functools import lru_cache, partial
from typing import Any, Final

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS as DEFAULT_FILTERS
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from tidings.errors import TemplateRenderError
from tidings.templates import guards
from tidings.templates.contract import (
    COMPILE_TIME_BUDGET_S,
    HARD_TIME_LIMIT_S,
    MAX_OUTPUT_CHARS,
    MAX_SOURCE_CHARS,
    RENDER_TIME_BUDGET_S,
)
from tidings.templates.formatting import LOCALE_FILTERS
from tidings.templates.restrict import Restrict
from tidings.templates.state import CURRENT, RenderState
from tidings.templates.variables import Record
from tidings.templates.watchdog import RenderTimeout, time_limit

# Jinja's own filters that cannot grow a value past its input (or are guarded below).
PLAIN_FILTERS: Final = (
    *("abs", "capitalize", "count", "d", "default", "first", "float", "int", "last", "length"),
    *("list", "lower", "map", "max", "min", "reject", "rejectattr", "reverse", "round", "select"),
    *("selectattr", "sort", "title", "trim", "truncate", "unique", "upper", "wordcount"),
)


class TidingsUndefined(StrictUndefined):
    """StrictUndefined whose errors name the variable, suggest the right one and carry it."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: Any = None,
    ) -> None:
        # Jinja calls ``exc(message)``; these factories make that a TemplateRenderError.
        if exc is SecurityError:
            exc = _security_error
        else:
            exc = partial(TemplateRenderError, name=name if obj is missing else None)
        super().__init__(hint, obj, name, exc)

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        name, obj = self._undefined_name, self._undefined_obj
        if obj is missing:
            return f"{name} is not a variable here (the variables are in docs/templates.md)"
        if isinstance(obj, Record):
            fields = list(obj._fields)
            close = difflib.get_close_matches(str(name), fields, n=1)
            hint = (
                f"did you mean {obj._path}.{close[0]}?" if close else f"it has: {', '.join(fields)}"
            )
            return f"{obj._path}.{name} is not a variable; {hint}"
        return f"{type(obj).__name__} value has no {name!r}"


def _security_error(message: str) -> TemplateRenderError:
    return TemplateRenderError(
        f"refused by the sandbox: {message} Templates may only read the variables in "
        "docs/templates.md"
    )


class GuardedTemplate(Template):
    """A template whose output is capped while it streams."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        """Render, refusing output past ``MAX_OUTPUT_CHARS`` as soon as it gets there."""
        context = self.new_context(dict(*args, **kwargs))
        parts: list[str] = []
        size = 0
        for part in self.root_render_func(context):
            size += len(part)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateRenderError(
                    f"the message would be longer than {MAX_OUTPUT_CHARS:,} characters: "
                    "check the loops"
                )
            parts.append(part)
        return "".join(parts)


def _guarded_buffer_join(parts: Iterator[str] | list[str]) -> str:
    texts = list(parts)
    if sum(map(len, texts)) > MAX_OUTPUT_CHARS:
        raise TemplateRenderError(f"a text would be longer than {MAX_OUTPUT_CHARS:,} characters")
    return "".join(texts)


class TemplateEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, narrowed to what message templates need."""

    intercepted_binops = guards.BINOPS
    template_class = GuardedTemplate

    def __init__(self) -> None:
        super().__init__(
            undefined=TidingsUndefined,
            autoescape=False,
            finalize=guards.finalize,
            keep_trailing_newline=False,
            auto_reload=False,
            cache_size=0,  # compiled templates are cached by source in compile_template
        )
        self.filters = {name: DEFAULT_FILTERS[name] for name in PLAIN_FILTERS}
        self.filters.update(
            join=guards.guarded_join, replace=guards.guarded_replace, sum=guards.guarded_sum
        )
        self.filters.update(LOCALE_FILTERS)
        self.filters[guards.ITER_GUARD] = guards.guard_loop
        self.filters[guards.CONCAT_GUARD] = guards.guard_concat
        self.filters[guards.PRINT_GUARD] = guards.guard_print
        self.globals = {"range": guards.bounded_range}
        self.binop_table = dict(guards.BINOP_TABLE)
        self.concat = _guarded_buffer_join  # type: ignore[method-assign,assignment]

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        restricted: nodes.Template = Restrict().visit(tree)
        return restricted

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Records answer from their fields directly; anything else goes through the sandbox."""
        if type(obj) is Record:
            fields = obj._fields
            if attribute in fields:
                return fields[attribute]
            return self.undefined(obj=obj, name=attribute)
        if isinstance(obj, Undefined):  # report the first failure, not a later one on it
            obj._fail_with_undefined_error()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """``x["field"]`` reads like ``x.field``."""
        if (type(obj) is Record and isinstance(argument, str)) or isinstance(obj, Undefined):
            return self.getattr(obj, argument)
        return super().getitem(obj, argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Operators that can grow a value are checked before they run."""
        return guards.guarded_binop(operator, left, right, self.binop_table)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """Only range(), loop.cycle/changed and a few str methods may be called."""
        state = CURRENT.get()
        if state is not None:
            state.check_time()
        if isinstance(__obj, Undefined):  # "dict is not a variable", not "cannot call"
            __obj._fail_with_undefined_error()
        if not guards.is_allowed_call(__obj):
            raise TemplateRenderError(
                f"calling {guards.describe_callable(__obj)} is not allowed in templates: use the "
                "filters in docs/templates.md"
            )
        return __context.call(__obj, *args, **kwargs)


ENVIRONMENT: Final = TemplateEnvironment()


@lru_cache(maxsize=4096)
def _compile(source: str) -> GuardedTemplate:
    template = ENVIRONMENT.from_string(source)
    assert isinstance(template, GuardedTemplate)  # noqa: S101 - template_class above
    return template


def compile_template(source: str) -> GuardedTemplate:
    """Parse and compile a template (cached by source), or raise ``TemplateRenderError``."""
    if not isinstance(source, str):
        raise TemplateRenderError("a template must be text")
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateRenderError(
            f"the template is {len(source):,} characters long; the limit is {MAX_SOURCE_CHARS:,}"
        )
    try:
        try:
            with time_limit(COMPILE_TIME_BUDGET_S):
                return _compile(source)
        except RenderTimeout:
            raise TemplateRenderError("the template is too complex to compile") from None
    except TemplateRenderError:
        raise
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(
            f"line {exc.lineno}: syntax error: {exc.message}", line=exc.lineno
        ) from None
    except RecursionError:
        raise TemplateRenderError("the template is nested too deeply") from None
    except Exception as exc:  # the sandbox boundary: nothing else may escape
        raise TemplateRenderError(f"the template cannot be compiled: {exc}") from None


def render_compiled(
    template: GuardedTemplate,
    context: dict[str, Any],
    *,
    language: str,
    time_zone: str,
    budget_s: float = RENDER_TIME_BUDGET_S,
) -> str:
    """Render in the customer's locale and time zone within the time budget."""
    state = RenderState(language=language, time_zone=time_zone, budget_s=budget_s)
    token = CURRENT.set(state)
    try:
        try:
            with time_limit(budget_s * HARD_TIME_LIMIT_S / RENDER_TIME_BUDGET_S):
                return template.render(context)
        except RenderTimeout:
            raise TemplateRenderError(
                f"the template took longer than {budget_s * 1000:.0f} ms to render: simplify "
                "its loops and filters"
            ) from None
    except Exception as exc:  # the sandbox boundary: nothing else may escape
        raise _as_render_error(exc) from None
    finally:
        CURRENT.reset(token)


def render_text(
    source: str,
    context: dict[str, Any],
    *,
    language: str,
    time_zone: str,
) -> str:
    """Compile (cached) and render one template source."""
    return render_compiled(
        compile_template(source), context, language=language, time_zone=time_zone
    )


def _as_render_error(exc: Exception) -> TemplateRenderError:
    line = _template_line(exc)
    where = f"line {line}: " if line else ""
    if isinstance(exc, TemplateRenderError):
        if exc.line is not None or not line:
            return exc
        return TemplateRenderError(f"{where}{exc}", line=line, name=exc.name)
    if isinstance(exc, SecurityError):
        return _security_error(f"{where}{exc}")
    if isinstance(exc, RecursionError):
        return TemplateRenderError(f"{where}the template is nested too deeply", line=line)
    return TemplateRenderError(f"{where}{type(exc).__name__}: {exc}", line=line)


def _template_line(exc: BaseException) -> int | None:
    """The template line the exception came from, read from the compiled code's traceback."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line
