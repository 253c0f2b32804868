"""Readable text from an HTML email: what a person sees, nothing a machine hid.

Scripts, styles, the head and anything hidden by inline style (``display:none``, zero size,
``mso-hide:all``...) or the ``hidden`` attribute are dropped, because senders hide text there
(preheaders, tracking codes, and prompt injection aimed at an LLM). Blockquotes come out as
``> `` lines, so quoted replies look the same as in plain-text mail.
"""

from __future__ import annotations

import re
from html import unescape
from itertools import accumulate
from typing import Any

from selectolax.lexbor import LexborHTMLParser

SKIP_TAGS = frozenset(
    {"head", "script", "style", "noscript", "template", "title", "meta", "link", "svg", "object"}
    | {"iframe", "embed", "canvas", "audio", "video", "map", "math", "button", "input", "select"}
)
BLOCK_TAGS = frozenset(
    {"p", "div", "br", "tr", "li", "table", "tbody", "thead", "tfoot", "section", "article"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "dt", "dd", "pre", "hr", "center"}
    | {"header", "footer", "address", "form", "fieldset", "figure", "figcaption", "main"}
    | {"nav", "aside", "blockquote", "caption", "body", "html"}
)
CELL_TAGS = frozenset({"td", "th"})
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all|opacity\s*:\s*0(?:\.0*)?\s*(?:;|$)"
    r"|font-size\s*:\s*0+(?:\.0+)?\s*(?:px|pt|em|rem|%)?\s*(?:;|$)"
    r"|max-height\s*:\s*0+(?:px)?\s*(?:;|$)",
    re.IGNORECASE,
)
_SPACES = re.compile(r"[ \t\r\n\f\v\xa0\u200b\u200c\u200d\u2060\ufeff\u034f]+")
MAX_HTML_CHARS = 5_000_000
# The HTML parser slows down quadratically with nesting depth (100,000 nested <div>s take
# 20 s); past this depth a plain tag stripper reads the text instead.
MAX_NESTING = 1_000
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*?(/?)>")
_OPEN_OR_CLOSE = re.compile(
    r"<(/?)(?!(?:br|img|hr|meta|link|input|wbr|col|area|base|source|track|param|embed)\b)[a-z]",
    re.IGNORECASE,
)
_INVISIBLE_BLOCK = re.compile(
    r"<(script|style|head|title|template|noscript)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_BLOCK_BREAK = re.compile(r"</?(?:p|div|br|tr|li|h[1-6]|table|blockquote|hr)\b[^>]*>", re.I)


WHITE = (255, 255, 255)
Colour = tuple[int, int, int]


def is_hidden(attributes: dict[str, Any], background: Colour = WHITE) -> bool:
    """True when an element's own attributes hide it from a reader (``background`` is the
    colour it sits on: the page's white, unless an ancestor painted another)."""
    if "hidden" in attributes:
        return True
    if str(attributes.get("aria-hidden") or "").lower() == "true":
        return True
    style = str(attributes.get("style") or "")
    if not style:
        return False
    declared = _declarations(style)
    return _HIDDEN_STYLE.search(style) is not None or _unreadable(declared, background)


def background_of(attributes: dict[str, Any], inherited: Colour) -> Colour:
    """The colour an element paints behind its children (``bgcolor`` or style), else the one it
    sits on."""
    declared = _declarations(str(attributes.get("style") or ""))
    own = _rgb(declared.get("background-color") or declared.get("background", "").split(" ")[0])
    return own or _rgb(str(attributes.get("bgcolor") or "")) or inherited


# Text nobody can read on screen: white (or nearly) on a page that is white by default, the
# same colour as its own background, a pixel tall, or pushed far off the page.
_TINY_FONT = re.compile(r"^(?:0*\.\d+|1)(?:px|pt)$|^0*\.0*\d*(?:em|rem)$")
_OFF_PAGE = re.compile(r"^-\d{3,}(?:\.\d+)?(?:px|em|rem|pt)?$")
_NAMED = {
    "white": (255, 255, 255),
    "snow": (255, 250, 250),
    "ivory": (255, 255, 240),
    "whitesmoke": (245, 245, 245),
    "black": (0, 0, 0),
}


def _declarations(style: str) -> dict[str, str]:
    found = {}
    for part in style.split(";"):
        name, sep, value = part.partition(":")
        if sep:
            found[name.strip().lower()] = value.strip().lower().replace("!important", "").strip()
    return found


def _rgb(value: str) -> tuple[int, int, int] | None:
    value = value.strip()
    if value in _NAMED:
        return _NAMED[value]
    hex_ = re.fullmatch(r"#([0-9a-f]{3}|[0-9a-f]{6})", value)
    if hex_:
        digits = hex_.group(1)
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    rgb = re.fullmatch(r"rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)[^)]*\)", value)
    if rgb:
        r, g, b = (int(x) for x in rgb.groups())
        return (r, g, b)
    return None


def _unreadable(style: dict[str, str], inherited: Colour) -> bool:
    color = _rgb(style.get("color", ""))
    own = _rgb(style.get("background-color") or style.get("background", "").split(" ")[0])
    background = own or inherited
    if color is not None and sum(abs(a - b) for a, b in zip(color, background, strict=True)) < 48:
        return True  # the same colour as what it sits on: white on white, black on black
    if _TINY_FONT.match(style.get("font-size", "")):
        return True
    positioned = style.get("position") in ("absolute", "fixed")
    off_page = any(_OFF_PAGE.match(style.get(side, "")) for side in ("left", "top"))
    if (positioned and off_page) or _OFF_PAGE.match(style.get("text-indent", "")):
        return True
    clipped = style.get("overflow") == "hidden" and any(
        re.fullmatch(r"0+(?:px)?", style.get(side, "x")) for side in ("height", "width")
    )
    return clipped


class _Lines:
    """Collects text into lines, each remembering how deep in blockquotes it started."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        self.current: list[str] = []
        self.depth = 0
        self.line_depth = 0

    def text(self, value: str) -> None:
        if not self.current:
            self.line_depth = self.depth
        self.current.append(value)

    def newline(self) -> None:
        line = _SPACES.sub(" ", "".join(self.current)).strip()
        if line:
            self.lines.append((self.line_depth, line))
        self.current = []

    def render(self) -> str:
        self.newline()
        return "\n".join(("> " * depth) + line for depth, line in self.lines)


def nesting_depth(html: str) -> int:
    """How deep elements nest, counted from the tags alone (void elements left out)."""
    steps = (-1 if slash else 1 for slash in _OPEN_OR_CLOSE.findall(html))
    return max(accumulate(steps, initial=0))


def strip_tags(html: str) -> str:
    """Text of HTML by removing tags: linear time, no layout, for hostile markup."""
    text = _BLOCK_BREAK.sub("\n", _INVISIBLE_BLOCK.sub(" ", html))
    text = unescape(_TAG.sub(" ", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def html_to_text(html: str) -> str:
    """Readable text from HTML, one block per line; blockquotes prefixed with ``> ``."""
    html = html[:MAX_HTML_CHARS]
    if nesting_depth(html) > MAX_NESTING:
        return strip_tags(html)
    tree = LexborHTMLParser(html)
    root = tree.body or tree.root
    if root is None:
        return ""
    out = _Lines()
    # Iterative walk: hostile mail nests elements deeper than Python's recursion limit.
    stack: list[tuple[Any, bool, Colour]] = [(root, False, WHITE)]
    while stack:
        node, leaving, background = stack.pop()
        tag = node.tag
        if leaving:
            _leave(tag, out)
            continue
        if tag == "-text":
            out.text(node.text_content or "")
            continue
        attributes = node.attributes
        if tag in SKIP_TAGS or tag.startswith("-") or is_hidden(attributes, background):
            continue
        _enter(tag, out)
        stack.append((node, True, background))
        inner = background_of(attributes, background)
        children = []
        child = node.child
        while child is not None:
            children.append(child)
            child = child.next
        stack.extend((c, False, inner) for c in reversed(children))
    return out.render()


def _enter(tag: str, out: _Lines) -> None:
    if tag in BLOCK_TAGS:
        out.newline()
        if tag == "blockquote":
            out.depth += 1
    elif tag in CELL_TAGS:
        out.text(" ")


def _leave(tag: str, out: _Lines) -> None:
    if tag in BLOCK_TAGS:
        out.newline()
        if tag == "blockquote":
            out.depth = max(0, out.depth - 1)
    elif tag in CELL_TAGS:
        out.text(" ")
