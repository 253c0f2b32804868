"""An email's HTML as the case page shows it: what the customer wrote, nothing that runs or calls
out.

Hidden elements and the tags the inbox never reads are dropped first (``tidings.inbox.html``:
senders hide preheaders, tracking codes and prompt injection there), then nh3 (the Ammonia
sanitiser) keeps an allowlist of tags and attributes. No style, no script, no form; links only to
http(s) and mailto; images only inline as ``data:`` (remote images and ``cid:`` parts are
counted as blocked: loading them would tell the sender the email was read). The page's CSP
(``img-src 'self' data:``) blocks them again should anything slip through.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

import nh3
from selectolax.lexbor import LexborHTMLParser

from tidings.inbox.html import MAX_NESTING, SKIP_TAGS, is_hidden, nesting_depth
from tidings.inbox.mime import content, parse_message, part_text

MAX_SHOWN_HTML = 512_000  # a page shows this much; the rest is in the stored raw email
TAGS = frozenset(
    {"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "div", "dl", "dt", "em"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "q", "s"}
    | {"small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead"}
    | {"tr", "u", "ul", "center", "font"}
)
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
_LINK_SCHEMES = ("http://", "https://", "mailto:")
_INLINE_IMAGE = ("data:image/png;", "data:image/gif;", "data:image/jpeg;", "data:image/webp;")


@dataclass(frozen=True)
class SafeHtml:
    """Sanitised HTML to show, and how many remote images (or links) were taken out."""

    html: str
    blocked: int


def email_html(raw: bytes) -> SafeHtml | None:
    """The email's HTML part, safe to put in a page; None for a plain-text email."""
    message: Message = parse_message(raw)
    parts = [
        part_text(part, [], params)
        for part in message.walk()
        if (params := content(part)[1]) is not None
        and content(part)[0] == "text/html"
        and part.get_content_disposition() != "attachment"
    ]
    if not parts:
        return None
    return sanitise("\n".join(parts)[:MAX_SHOWN_HTML])


def sanitise(html: str) -> SafeHtml:
    """Visible content only, through nh3's allowlist, remote content blocked."""
    visible, blocked = _visible(html)

    def keep(element: str, attribute: str, value: str) -> str | None:
        if element == "img" and attribute == "src":
            return value if _inline(value) else None
        if element == "a" and attribute == "href":
            return value if value.strip().lower().startswith(_LINK_SCHEMES) else None
        return value

    cleaned = nh3.clean(
        visible,
        tags=set(TAGS),
        attributes=ATTRIBUTES,
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return SafeHtml(cleaned, blocked)


def _inline(src: str) -> bool:
    return src.strip().lower().startswith(_INLINE_IMAGE)


def _unseen(tag: str, attributes: dict[str, str | None]) -> bool:
    return tag in SKIP_TAGS or (not tag.startswith("-") and is_hidden(attributes))


def _visible(html: str) -> tuple[str, int]:
    """The body without what a reader never sees, remote images as a marker, and how many
    there were (too deeply nested markup comes back as escaped text)."""
    if nesting_depth(html) > MAX_NESTING:
        return nh3.clean_text(html), 0
    root = LexborHTMLParser(html).body
    if root is None:
        return "", 0
    for node in [node for node in root.traverse() if _unseen(node.tag or "-", node.attributes)]:
        node.decompose()
    remote = [
        node
        for node in root.traverse()
        if node.tag == "img" and not _inline(str(node.attributes.get("src") or ""))
    ]
    for node in remote:
        alt = str(node.attributes.get("alt") or "").strip()
        node.replace_with(f"[image{': ' + alt if alt else ''}]")
    return root.inner_html or "", len(remote)
