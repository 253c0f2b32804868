"""What a template may contain, checked on its syntax tree before it compiles.

Only a small set of Jinja constructs is allowed: nothing that reads another file (include,
import, extends) or recurses (macros, call blocks, recursive loops). The tree is also rewritten
so loops, ``~`` and prints of optional variables go through the guards in ``guards.py``.
"""

from __future__ import annotations

from typing import Any, Final

from jinja2 import nodes
from jinja2.visitor import NodeTransformer

from tidings.errors import TemplateRenderError
from tidings.templates import guards
from tidings.templates.variables import OPTIONAL_PATHS

_ALLOWED_NODES: Final = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.For,
    nodes.If,
    nodes.With,
    nodes.Assign,
    nodes.Name,
    nodes.Const,
    nodes.Tuple,
    nodes.List,
    nodes.Dict,
    nodes.Pair,
    nodes.Keyword,
    nodes.CondExpr,
    nodes.Filter,
    nodes.Test,
    nodes.Call,
    nodes.Getitem,
    nodes.Getattr,
    nodes.Slice,
    nodes.Concat,
    nodes.Compare,
    nodes.Operand,
    nodes.BinExpr,
    nodes.UnaryExpr,
)

_REFUSED: Final = {
    nodes.Extends: "{% extends %} is not allowed: a template cannot load another file",
    nodes.Include: "{% include %} is not allowed: a template cannot load another file",
    nodes.Import: "{% import %} is not allowed: a template cannot load another file",
    nodes.FromImport: "{% from ... import %} is not allowed: a template cannot load another file",
    nodes.Macro: "{% macro %} is not allowed: write the text out where it is needed",
    nodes.CallBlock: "{% call %} is not allowed: write the text out where it is needed",
    nodes.Block: "{% block %} is not allowed: templates have no blocks",
    nodes.AssignBlock: "{% set x %}...{% endset %} is not allowed: use {% set x = ... %}",
    nodes.FilterBlock: "{% filter %} blocks are not allowed: apply the filter to a value",
    nodes.ScopedEvalContextModifier: "{% autoescape %} is not allowed in message templates",
    nodes.NSRef: "{% set x.y = ... %} is not allowed: use {% set y = ... %}",
}


class Restrict(NodeTransformer):
    """Refuse constructs outside the allowed set; route loops and ``~`` through the guards."""

    def generic_visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(node, _ALLOWED_NODES):
            message = _REFUSED.get(type(node), f"{type(node).__name__} is not allowed in templates")
            raise TemplateRenderError(f"line {node.lineno}: {message}", line=node.lineno)
        return super().generic_visit(node, *args, **kwargs)

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 - Jinja's visitor names
        if node.recursive:
            raise TemplateRenderError(
                f"line {node.lineno}: recursive loops are not allowed", line=node.lineno
            )
        node = self.generic_visit(node)
        node.iter = nodes.Filter(
            node.iter, guards.ITER_GUARD, [], [], None, None, lineno=node.lineno
        )
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:  # noqa: N802
        node = self.generic_visit(node)
        node.nodes = [_named_print(child) for child in node.nodes]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
        node = self.generic_visit(node)
        items = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(items, guards.CONCAT_GUARD, [], [], None, None, lineno=node.lineno)


def _dotted(node: nodes.Node) -> str | None:
    """``order.total`` for a plain variable path, None for anything else."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        base = _dotted(node.node)
        return f"{base}.{node.attr}" if base else None
    return None


def _named_print(node: nodes.Expr) -> nodes.Expr:
    """``{{ shipment.eta }}`` prints through a guard that knows the name, for "shipment.eta is
    empty" errors; only optional variables need it, so the others print at full speed."""
    path = None if isinstance(node, nodes.TemplateData) else _dotted(node)
    if path is None or path not in OPTIONAL_PATHS:
        return node
    args: list[nodes.Expr] = [nodes.Const(path, lineno=node.lineno)]
    return nodes.Filter(node, guards.PRINT_GUARD, args, [], None, None, lineno=node.lineno)
