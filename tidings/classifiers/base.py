"""The ``Classifier`` protocol and the registry built-ins and add-ons register in."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from tidings.classifiers.types import Classification, ClassifyContext, EmailInput
from tidings.errors import ConfigError

if TYPE_CHECKING:
    from tidings.config.settings import Settings


@runtime_checkable
class Classifier(Protocol):
    """Decides what an email is. Must not raise for bad input: report it in the result."""

    name: str

    def classify(self, email: EmailInput, context: ClassifyContext) -> Classification:
        """Classify one email."""
        ...


Factory = Callable[..., Classifier]
_REGISTRY: dict[str, Factory] = {}


F = TypeVar("F", bound=Factory)


def register(name: str) -> Callable[[F], F]:
    """Decorator: make a classifier factory ``(settings, **options) -> Classifier`` available by
    name (``tidings eval --classifier NAME``); built-ins register the same way as add-ons."""

    def add(factory: F) -> F:
        _REGISTRY[name] = factory
        return factory

    return add


def create(name: str, settings: Settings, **options: Any) -> Classifier:
    """Build the classifier registered as ``name``: ``factory(settings, **options)``."""
    _load_builtins()
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(f"no classifier {name!r}; choose one of: {known}")
    return _REGISTRY[name](settings, **options)


BUILTINS = ("local", "llm", "cascade")


def _load_builtins() -> None:
    # Imported for their @register side effect, only when a classifier is asked for.
    for module in BUILTINS:
        importlib.import_module(f"tidings.classifiers.{module}")
