"""The ``Classifier`` protocol and the registry built-ins and add-ons register in."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from tidings.classifiers.types import Classification, ClassifyContext, EmailInput
from tidings.errors import ConfigError


@runtime_checkable
class Classifier(Protocol):
    """Decides what an email is. Must not raise for bad input: report it in the result."""

    name: str

    def classify(self, email: EmailInput, context: ClassifyContext) -> Classification:
        """Classify one email."""
        ...


Factory = Callable[..., Classifier]
_REGISTRY: dict[str, Factory] = {}


def register(name: str) -> Callable[[Factory], Factory]:
    """Decorator: make a classifier factory available by name (``--classifier NAME``)."""

    def add(factory: Factory) -> Factory:
        _REGISTRY[name] = factory
        return factory

    return add


def create(name: str, **options: object) -> Classifier:
    """Build the classifier registered as ``name``."""
    _load_builtins()
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(f"no classifier {name!r}; choose one of: {known}")
    return _REGISTRY[name](**options)


BUILTINS = ("local", "llm", "cascade")


def _load_builtins() -> None:
    # Imported for their @register side effect, only when a classifier is asked for.
    for module in BUILTINS:
        importlib.import_module(f"tidings.classifiers.{module}")
