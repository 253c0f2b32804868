"""Static check of the variables a template reads, against the contract's variables.

``jinja2.meta`` finds the top-level names; a walk of the tree follows attribute access
(``order.total.amount``), loop variables (``{% for item in order.items %}{{ item.name }}``) and
``{% set %}`` names, so a typo is reported with its line and the nearest real name.
"""

from __future__ import annotations

import datetime as dt
import difflib
import types
import typing
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Final

from jinja2 import meta, nodes
from pydantic import BaseModel

from tidings.templates import guards
from tidings.templates.variables import Money, TemplateVariables


@dataclass(frozen=True)
class Kind:
    """What a name holds: a group of fields, a list, or a leaf value."""

    label: str  # group, list, text, number, date, datetime, money, loop, method
    path: str
    fields: dict[str, Kind] = field(default_factory=dict)
    item: Kind | None = None


LOOP: Final = Kind("loop", "loop")
LOOP_FIELDS: Final = frozenset(
    {
        *("index", "index0", "revindex", "revindex0", "first", "last", "length"),
        *("cycle", "changed", "previtem", "nextitem", "depth", "depth0"),
    }
)
DATE_FIELDS: Final = frozenset({"year", "month", "day"})
_TEXT_FILTERS: Final = frozenset(
    {
        *("lower", "upper", "title", "capitalize", "trim", "truncate", "replace", "join"),
        *("date", "weekday", "datetime", "time", "money", "plural", "join_names"),
        guards.CONCAT_GUARD,
    }
)
_NUMBER_FILTERS: Final = frozenset(
    {"length", "count", "wordcount", "int", "float", "round", "abs", "sum"}
)
_SAME_FILTERS: Final = frozenset(
    {
        *("sort", "reverse", "unique", "list", "select", "reject", "selectattr", "rejectattr"),
        *("default", "d", guards.ITER_GUARD, guards.PRINT_GUARD),
    }
)


def _kind_of(annotation: Any, path: str) -> Kind:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _kind_of(args[0], path)
    if origin is typing.Annotated:
        return _kind_of(typing.get_args(annotation)[0], path)
    if origin in (tuple, list):
        return Kind("list", path, item=_kind_of(typing.get_args(annotation)[0], f"{path}[]"))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = {
            name: _kind_of(info.annotation, f"{path}.{name}" if path else name)
            for name, info in annotation.model_fields.items()
        }
        return Kind("group", path, fields=fields)
    if annotation is Money:
        return Kind("money", path)
    if annotation is dt.datetime:
        return Kind("datetime", path)
    if annotation is dt.date:
        return Kind("date", path)
    if annotation in (int, float):
        return Kind("number", path)
    return Kind("text", path)


@lru_cache(maxsize=1)
def contract_root() -> Kind:
    """Every variable of the contract, as a tree of kinds."""
    return _kind_of(TemplateVariables, "")


def _suggest(name: str, candidates: typing.Iterable[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f"; did you mean {prefix}{close[0]}?" if close else ""


class _Checker:
    """Walks one template tree; collects (line, message) for each unknown name."""

    def __init__(self) -> None:
        self.root = contract_root()
        self.problems: list[tuple[int | None, str]] = []
        self.reported: set[str] = set()

    def problem(self, node: nodes.Node, message: str) -> None:
        self.problems.append((node.lineno, message))

    def body(self, statements: list[nodes.Node], scope: dict[str, Kind | None]) -> None:
        for statement in statements:
            self.statement(statement, scope)

    def statement(self, node: nodes.Node, scope: dict[str, Kind | None]) -> None:
        if isinstance(node, nodes.For):
            iterable = self.expr(node.iter, scope)
            inner = dict(scope)
            self.bind(node.target, iterable.item if iterable and iterable.item else None, inner)
            inner["loop"] = LOOP
            if node.test is not None:
                self.expr(node.test, inner)
            self.body(node.body, inner)
            self.body(node.else_, scope)
        elif isinstance(node, nodes.If):
            self.expr(node.test, scope)
            self.body(node.body, scope)
            for branch in node.elif_:
                self.statement(branch, scope)
            self.body(node.else_, scope)
        elif isinstance(node, nodes.With):
            inner = dict(scope)
            for target, value in zip(node.targets, node.values, strict=True):
                self.bind(target, self.expr(value, scope), inner)
            self.body(node.body, inner)
        elif isinstance(node, nodes.Assign):
            self.bind(node.target, self.expr(node.node, scope), scope)
        elif isinstance(node, nodes.Output):
            for child in node.nodes:
                if not isinstance(child, nodes.TemplateData):
                    self.expr(child, scope)
        else:
            for sub in node.iter_child_nodes():
                if isinstance(sub, nodes.Stmt):
                    self.statement(sub, scope)
                else:
                    self.expr(sub, scope)

    def bind(self, target: nodes.Node, kind: Kind | None, scope: dict[str, Kind | None]) -> None:
        if isinstance(target, nodes.Name):
            # Name the loop variable in messages: "item.nme", not "order.items[].nme".
            scope[target.name] = replace(kind, path=target.name) if kind else None
        elif isinstance(target, nodes.Tuple):
            for item in target.items:
                self.bind(item, None, scope)

    def expr(self, node: nodes.Node, scope: dict[str, Kind | None]) -> Kind | None:
        if isinstance(node, nodes.Name):
            return self.name(node, scope)
        if isinstance(node, nodes.Getattr):
            return self.attribute(self.expr(node.node, scope), node.attr, node)
        if isinstance(node, nodes.Getitem):
            base = self.expr(node.node, scope)
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                return self.attribute(base, node.arg.value, node)
            self.expr(node.arg, scope)
            return base.item if base and base.label == "list" else None
        if isinstance(node, nodes.Filter):
            return self.filter(node, scope)
        if isinstance(node, nodes.Call):
            self.children(node, scope)
            if isinstance(node.node, nodes.Name) and node.node.name == "range":
                return Kind("list", "range()", item=Kind("number", "range()[]"))
            return None
        self.children(node, scope)
        if isinstance(node, nodes.Const):
            return Kind("text" if isinstance(node.value, str) else "number", "literal")
        return None

    def children(self, node: nodes.Node, scope: dict[str, Kind | None]) -> None:
        for child in node.iter_child_nodes():
            self.expr(child, scope)

    def name(self, node: nodes.Name, scope: dict[str, Kind | None]) -> Kind | None:
        if node.name in scope:
            return scope[node.name]
        if node.name in self.root.fields:
            return self.root.fields[node.name]
        if node.name == "range":
            return Kind("method", "range")
        if node.name not in self.reported:
            self.reported.add(node.name)
            known = [*self.root.fields, *scope]
            self.problem(
                node,
                f"{node.name} is not a variable{_suggest(node.name, known)} "
                f"(the variables are: {', '.join(self.root.fields)})",
            )
        return None

    def attribute(self, base: Kind | None, attr: str, node: nodes.Node) -> Kind | None:
        if base is None:
            return None
        if base.label == "group":
            if attr in base.fields:
                return base.fields[attr]
            self.problem(
                node,
                f"{base.path}.{attr} is not a variable"
                + (
                    _suggest(attr, base.fields, f"{base.path}.")
                    or f"; {base.path} has: {', '.join(base.fields)}"
                ),
            )
            return None
        allowed: dict[str, frozenset[str]] = {
            "text": guards.SAFE_STR_METHODS,
            "money": frozenset({"amount", "currency"}),
            "date": DATE_FIELDS,
            "datetime": DATE_FIELDS | {"hour", "minute"},
            "loop": LOOP_FIELDS,
        }
        if attr in allowed.get(base.label, frozenset()):
            return Kind("text" if attr == "currency" else "number", f"{base.path}.{attr}")
        hints = {
            "list": f"{base.path} is a list: loop over it with {{% for %}} or use | join_names",
            "date": f"{base.path} is a date: print it with | date or | weekday",
            "datetime": f"{base.path} is a date and time: print it with | datetime or | time",
            "money": f"{base.path} is an amount: print it with | money",
        }
        self.problem(
            node,
            f".{attr} cannot be used here: "
            + hints.get(base.label, f"{base.path} has no {attr!r}"),
        )
        return None

    def filter(self, node: nodes.Filter, scope: dict[str, Kind | None]) -> Kind | None:
        base = self.expr(node.node, scope) if node.node is not None else None
        for arg in node.args:
            self.expr(arg, scope)
        for keyword in node.kwargs:
            self.expr(keyword.value, scope)
        if node.name in _TEXT_FILTERS:
            return Kind("text", f"{base.path if base else ''}|{node.name}")
        if node.name in _NUMBER_FILTERS:
            return Kind("number", f"{base.path if base else ''}|{node.name}")
        if node.name in _SAME_FILTERS:
            return base
        if node.name in ("first", "last") and base and base.label == "list":
            return base.item
        if node.name == "map" and base and base.label == "list" and base.item:
            for keyword in node.kwargs:
                if keyword.key == "attribute" and isinstance(keyword.value, nodes.Const):
                    item = self.attribute(base.item, str(keyword.value.value), node)
                    return Kind("list", f"{base.path}|map", item=item)
        return None


def check_names(tree: nodes.Template) -> list[tuple[int | None, str]]:
    """Every unknown variable or field the template reads, as (line, message with the fix)."""
    checker = _Checker()
    checker.body(tree.body, {})
    # jinja2.meta is the reference for top-level names; the walk above attaches lines to them.
    for name in sorted(meta.find_undeclared_variables(tree)):
        if name not in checker.root.fields and name != "range" and name not in checker.reported:
            checker.problems.append((None, f"{name} is not a variable"))
    return checker.problems
