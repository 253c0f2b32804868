"""Brand-voice templates: sandboxed Jinja2, Babel formatting, a versioned store with fallbacks.

The contract with copywriters and callers is docs/templates.md. Callers use
``tidings.templates.render.render_message``; editors use ``tidings.templates.store``.
"""

from tidings.templates.render import RenderedMessage, render_message, render_source
from tidings.templates.samples import sample_variables

__all__ = ["RenderedMessage", "render_message", "render_source", "sample_variables"]
