"""The HTML part of an email: the rendered text body in the brand's layout.

The text is escaped, blank lines make paragraphs, single line breaks stay line breaks, and
``https://`` links become clickable (``http://`` ones stay text: the validator refuses them).
The layout (``layout/email.html``) and colours (``layout/themes.yaml``) are ours, not the brand
manager's, so they render in a normal autoescaping environment.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Final

import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from tidings.config.brands import Brand

LAYOUT_DIR: Final = Path(__file__).resolve().parent / "layout"
_LINK: Final = re.compile(r"https://[^\s<>\"']+")
_TRAILING: Final = ".,;:!?)]}'\""
_PARAGRAPH_BREAK: Final = re.compile(r"\n[ \t]*\n+")
_UNSUBSCRIBE: Final = {
    "en": "Unsubscribe",
    "hi": "सदस्यता छोड़ें",
    "id": "Berhenti berlangganan",
    "ms": "Berhenti melanggan",
}


@lru_cache(maxsize=1)
def _layout_environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(LAYOUT_DIR),
        autoescape=select_autoescape(default=True),
        keep_trailing_newline=True,
    )


@lru_cache(maxsize=1)
def themes() -> dict[str, dict[str, str]]:
    """Layout colours per brand slug (``_default`` for the rest)."""
    data: dict[str, dict[str, str]] = yaml.safe_load(
        (LAYOUT_DIR / "themes.yaml").read_text("utf-8")
    )
    return data


def theme_for(slug: str) -> dict[str, str]:
    """The colours of a brand's emails."""
    return themes().get(slug, themes()["_default"])


def _linkify(line: str, colour: str) -> Markup:
    parts: list[Markup] = []
    position = 0
    for match in _LINK.finditer(line):
        url = match.group(0).rstrip(_TRAILING)
        parts.append(escape(line[position : match.start()]))
        parts.append(Markup('<a href="{0}" style="color:{1};">{0}</a>').format(url, colour))
        position = match.start() + len(url)
    parts.append(escape(line[position:]))
    return Markup("").join(parts)


def text_to_html(text: str, *, link_colour: str = "#3b5b7a") -> Markup:
    """Paragraphs, line breaks and clickable https links; everything else escaped."""
    paragraphs = [part for part in _PARAGRAPH_BREAK.split(text.strip()) if part.strip()]
    html = [
        Markup('<p style="margin:0 0 16px;">')
        + Markup("<br>\n").join(_linkify(line, link_colour) for line in paragraph.split("\n"))
        + Markup("</p>")
        for paragraph in paragraphs
    ]
    return Markup("\n").join(html)


def email_html(
    *, text: str, subject: str, brand: Brand, language: str, unsubscribe: str | None = None
) -> str:
    """The full HTML email for a rendered text body."""
    theme = theme_for(brand.slug)
    layout = _layout_environment().get_template("email.html")
    return layout.render(
        language=language,
        subject=subject,
        theme=theme,
        brand_name=brand.name,
        support_email=brand.senders.email.address,
        body=text_to_html(text, link_colour=theme["accent"]),
        unsubscribe=unsubscribe if unsubscribe and unsubscribe.startswith("https://") else None,
        unsubscribe_label=_UNSUBSCRIBE.get(language, _UNSUBSCRIBE["en"]),
    )
