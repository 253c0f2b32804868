"""The exception taxonomy as data: categories with descriptions and examples."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from tidings.config.settings import BUNDLED_TAXONOMY_FILE as BUNDLED_TAXONOMY
from tidings.errors import ConfigError

OTHER = "other"


class Category(BaseModel):
    """One category of exception."""

    name: str = Field(pattern=r"^[a-z][a-z_]*$")
    sender: Literal["customer", "carrier", "supplier", "anyone"]
    description: str
    examples: list[str] = Field(default_factory=list)


class Taxonomy(BaseModel):
    """All categories; ``other`` must be one of them (it means: no exception)."""

    categories: list[Category] = Field(min_length=2)

    @property
    def names(self) -> list[str]:
        """Category names in file order."""
        return [c.name for c in self.categories]

    def get(self, name: str) -> Category:
        """The category called ``name``."""
        for category in self.categories:
            if category.name == name:
                return category
        raise ConfigError(f"unknown category {name!r}; the taxonomy has {', '.join(self.names)}")


@cache
def load_taxonomy(path: Path = BUNDLED_TAXONOMY) -> Taxonomy:
    """Read and validate a taxonomy file."""
    try:
        taxonomy = Taxonomy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"taxonomy file {path} is unreadable or invalid: {exc}") from exc
    if OTHER not in taxonomy.names:
        raise ConfigError(f"taxonomy {path} must have an '{OTHER}' category")
    return taxonomy
