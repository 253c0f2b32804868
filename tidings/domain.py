"""Small value types shared across steps (classifier output, order API, templates)."""

from __future__ import annotations

from decimal import Decimal

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


# ISO 4217 minor units where they are not hundredths. Pinned here rather than read from CLDR,
# whose display digits for the rupiah changed between Babel releases while its minor unit did not.
_MINOR_DIGITS = {"JPY": 0, "KRW": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3}


def minor_digits(currency: str) -> int:
    """How many decimals a currency's minor unit has (2 for INR, MYR, IDR)."""
    return _MINOR_DIGITS.get(currency.upper(), 2)


def from_minor(amount: int, currency: str) -> Decimal:
    """Minor units (paise, sen) to an amount with the currency's decimals."""
    digits = minor_digits(currency)
    return Decimal(amount).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


def to_minor(amount: Decimal | str | float, currency: str) -> int:
    """An amount to minor units, rounded to the nearest one."""
    return int((Decimal(str(amount)).scaleb(minor_digits(currency))).to_integral_value())
