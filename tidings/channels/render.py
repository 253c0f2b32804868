"""Rendering at send time, behind a small ``Renderer`` protocol.

The real renderer is ``tidings.templates.render.render_message`` (the templates engine: sandboxed
Jinja, Babel formatting, the fallback chain). The dispatcher takes any ``Renderer``, so tests and
tools can pass a simple one; ``default_renderer()`` returns the engine's.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, cast

from sqlalchemy.orm import Session

from tidings.config.brands import Brand
from tidings.store.enums import ChannelKind

RENDER_MODULE = "tidings.templates.render"


class Rendered(Protocol):
    """What a renderer returns (``tidings.templates.render.RenderedMessage`` has these)."""

    @property
    def subject(self) -> str | None:
        """Email subject; None for WhatsApp and SMS."""
        ...

    @property
    def text(self) -> str:
        """The message text (the email's plain-text part)."""
        ...

    @property
    def html(self) -> str | None:
        """The email's HTML part; None elsewhere."""
        ...

    @property
    def template_version_id(self) -> int | None:
        """The template version used, kept on the notification for audit."""
        ...

    @property
    def language(self) -> str:
        """The language actually rendered (after fallbacks)."""
        ...


class Renderer(Protocol):
    """Renders one message for one channel in the customer's language and time zone."""

    def __call__(
        self,
        *,
        session: Session,
        brand: Brand,
        event: str,
        channel: ChannelKind,
        language: str,
        time_zone: str,
        variables: dict[str, Any],
    ) -> Rendered:
        """Render; raise ``TemplateError`` when no template fits or it is refused."""
        ...


def default_renderer() -> Renderer:
    """The templates engine's ``render_message``.

    Imported by name when first needed: the engine lives in its own package, and a process
    that only lists or replays the outbox need not load it.
    """
    module = importlib.import_module(RENDER_MODULE)
    return cast(Renderer, module.render_message)
