"""Small value types shared across steps (classifier output, order API, templates)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Address(BaseModel):
    """A postal address, structured enough to validate and to hand to a carrier."""

    lines: list[str] = Field(default_factory=list, description="house, street, locality")
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2"
    )

    def one_line(self) -> str:
        """The address on one line, for logs, drafts and previews."""
        parts = [*self.lines, self.city, self.state, self.postcode, self.country]
        return ", ".join(part for part in parts if part)
