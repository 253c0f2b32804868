"""Which provider sends each kind of channel. Built-ins register the same way an add-on does.

An add-on package exposes a function under the ``tidings.channels`` entry-point group::

    [project.entry-points."tidings.channels"]
    acme = "acme_sms.tidings:register"      # def register(registry: ChannelRegistry) -> None

and calls ``registry.register("acme", [ChannelKind.SMS], factory, priority=10)``. For each kind
the registered factory with the lowest priority that returns a channel wins (a factory returns
None when its provider is not configured); the file outbox comes last and always works.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from tidings.channels.base import Channel
from tidings.config import Settings
from tidings.errors import ConfigError
from tidings.store.enums import ChannelKind

ENTRY_POINT_GROUP = "tidings.channels"


@dataclass(frozen=True)
class ChannelContext:
    """What factories build channels from."""

    settings: Settings
    twilio_http_client: Any = None
    """A ``TwilioHttpClient`` to use instead of the SDK's default (routing, instrumentation)."""
    smtp_ssl_context: ssl.SSLContext | None = None
    rate_limits: dict[str, float | None] = field(default_factory=dict)
    """Override a provider's rate limit by name (``{"twilio": 20}``); None means unlimited."""


ChannelFactory = Callable[[ChannelKind, ChannelContext], Channel | None]


@dataclass(frozen=True)
class _Entry:
    name: str
    kinds: frozenset[ChannelKind]
    factory: ChannelFactory
    priority: int


class ChannelRegistry:
    """Providers by kind, each with a factory and a priority."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []

    def register(
        self,
        name: str,
        kinds: Iterable[ChannelKind],
        factory: ChannelFactory,
        *,
        priority: int = 100,
    ) -> None:
        """Add a provider; registering a name again replaces it."""
        self._entries = [e for e in self._entries if e.name != name]
        self._entries.append(_Entry(name, frozenset(kinds), factory, priority))

    def names(self, kind: ChannelKind) -> list[str]:
        """Providers that can send ``kind``, in the order they are tried."""
        return [e.name for e in self._ordered() if kind in e.kinds]

    def build(
        self, context: ChannelContext, *, prefer: dict[ChannelKind, str] | None = None
    ) -> dict[ChannelKind, Channel]:
        """One channel per kind: the preferred provider, or the first one configured."""
        prefer = prefer or {}
        built: dict[ChannelKind, Channel] = {}
        for kind in ChannelKind:
            candidates = [e for e in self._ordered() if kind in e.kinds]
            if kind in prefer:
                candidates = [e for e in candidates if e.name == prefer[kind]]
                if not candidates:
                    raise ConfigError(
                        f"no channel provider named {prefer[kind]!r} for {kind.value}; "
                        f"registered: {', '.join(self.names(kind)) or 'none'}"
                    )
            channel = _first_configured(candidates, kind, context)
            if channel is None and kind in prefer:
                raise ConfigError(f"{prefer[kind]} is not configured for {kind.value}")
            if channel is not None:
                built[kind] = channel
        return built

    def _ordered(self) -> list[_Entry]:
        return sorted(self._entries, key=lambda e: e.priority)


def _first_configured(
    candidates: list[_Entry], kind: ChannelKind, context: ChannelContext
) -> Channel | None:
    for entry in candidates:
        channel = entry.factory(kind, context)
        if channel is not None:
            return channel
    return None


def load_add_ons(registry: ChannelRegistry) -> None:
    """Let every installed add-on register its providers."""
    for point in entry_points(group=ENTRY_POINT_GROUP):
        register: Callable[[ChannelRegistry], None] = point.load()
        register(registry)


def default_registry() -> ChannelRegistry:
    """The built-in providers plus every installed add-on."""
    from tidings.channels import builtin  # the built-ins use the same hook as add-ons

    registry = ChannelRegistry()
    builtin.register(registry)
    load_add_ons(registry)
    return registry
