"""Who wrote an email: a customer, a carrier, a supplier, or unknown.

Evidence, strongest first: the configured domain lists (``InboxSettings``), the brand's own
domains (mail from ourselves is ``unknown``), free-mail providers (a person, so a customer),
words in the sender's domain and subject that suppliers and carriers use, and header cues of
automated mail (``Auto-Submitted``, ``Precedence: bulk``, ``List-Id``, no-reply addresses).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

SenderKind = Literal["customer", "carrier", "supplier", "unknown"]

_SPLIT = re.compile(r"[^a-z0-9&\u0900-\u097f]+")
NOREPLY = re.compile(
    r"^(?:no-?reply|do-?not-?reply|donotreply|mailer-daemon|postmaster|bounces?|notifications?|"
    r"alerts?|updates?|newsletters?|news|info|marketing|system|auto|automated)\b",
    re.IGNORECASE,
)
# Words carriers put in their domains and names that people and suppliers rarely do.
CARRIER_WORDS = frozenset(
    {"courier", "couriers", "express", "xpress", "logistics", "cargo", "kurir", "ekspedisi"}
    | {"ekspres", "freight", "parcel-delivery", "shipping-alerts", "kastam", "customs"}
)
# Words in a supplier's domain or mailbox name: makers, wholesalers, warehouses and 3PLs.
SUPPLIER_WORDS = (
    "supply",
    "supplier",
    "wholesale",
    "exports",
    "export",
    "impex",
    "trading",
    "traders",
    "textile",
    "fabrics",
    "knits",
    "mills",
    "manufactur",
    "mfg",
    "industries",
    "housewares",
    "craft",
    "handloom",
    "fulfil",
    "warehouse",
    "gudang",
    "3pl",
    "wms",
    "makloon",
    "kilang",
    "labs",
    "kosmetik",
    "packers",
    "salesadmin",
    "sales",
    "orders",
    "purchasing",
    "procurement",
    "dispatch",
)
# A carrier's fulfilment arm (warehouse, 3PL) acts as a supplier.
FULFILMENT_WORDS = ("fulfil", "warehouse", "gudang", "3pl", "wms", "wh-ops", "fc.")
PURCHASE_ORDER = re.compile(
    r"\b(?:P\.?O\.?|purchase order)\s*(?:no\.?|number|#)?\s*[:#-]?\s*"
    r"[A-Z0-9][A-Z0-9/-]*\d[A-Z0-9/-]*"
    r"|\b(?:purchase order|proforma|invoice no)\b",
    re.IGNORECASE,
)
SUPPLIER_SUBJECT = re.compile(
    rf"{PURCHASE_ORDER.pattern}|\b(?:stock status|backorder(?:ed)?|ASN|dispatch advice"
    r"|partial (?:dispatch|shipment))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SenderLists:
    """The configured evidence, prepared once per parse step."""

    carriers: tuple[str, ...] = ()
    suppliers: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    own: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        carriers: Iterable[str] = (),
        suppliers: Iterable[str] = (),
        customers: Iterable[str] = (),
        own: Iterable[str] = (),
    ) -> SenderLists:
        """Lower-cased, de-duplicated lists."""

        def clean(values: Iterable[str]) -> tuple[str, ...]:
            return tuple(sorted({v.strip().lower().lstrip("@.") for v in values if v.strip()}))

        return cls(clean(carriers), clean(suppliers), clean(customers), clean(own))


def _tokens(text: str) -> set[str]:
    """Words of a domain or display name, plus each adjacent pair joined ("blue dart" ->
    "bluedart"), with "&" dropped ("J&T" -> "jt")."""
    words = [w.replace("&", "") for w in _SPLIT.split(text.lower()) if w.replace("&", "")]
    return set(words) | {a + b for a, b in pairwise(words)}


def matches(domain: str, name: str, entries: tuple[str, ...]) -> bool:
    """True when an entry names this domain (a suffix) or a word of the domain or name."""
    if not entries:
        return False
    tokens: set[str] | None = None
    for entry in entries:
        if "." in entry:
            if domain == entry or domain.endswith("." + entry):
                return True
            continue
        if tokens is None:
            tokens = _tokens(domain.rsplit(".", 1)[0] if "." in domain else domain) | _tokens(name)
        if entry in tokens:
            return True
    return False


def is_automated(headers: dict[str, str], local_part: str) -> bool:
    """True for machine-sent mail: bulk, lists, auto-generated, bounces, no-reply senders."""
    auto = headers.get("auto-submitted", "").lower()
    precedence = headers.get("precedence", "").lower()
    return (
        (bool(auto) and auto != "no" and not auto.startswith("auto-replied"))
        or precedence in ("bulk", "list", "junk")
        or bool(headers.get("list-id") or headers.get("list-unsubscribe"))
        or headers.get("return-path", "").strip() == "<>"
        or NOREPLY.match(local_part) is not None
    )


def sender_kind(
    *,
    address: str | None,
    name: str | None,
    subject: str,
    headers: dict[str, str],
    lists: SenderLists,
) -> SenderKind:
    """Classify the sender from its address, display name, subject and headers."""
    address = (address or "").lower()
    local, _, domain = address.rpartition("@")
    name = name or ""
    if domain and matches(domain, "", lists.own):
        return "unknown"
    if matches(domain, name, lists.carriers):
        fulfilment = f"{local} {name}".lower()
        return "supplier" if any(w in fulfilment for w in FULFILMENT_WORDS) else "carrier"
    if matches(domain, name, lists.suppliers):
        return "supplier"
    if not address:
        return "unknown"
    if matches(domain, "", lists.customers):
        # People also write from free mail for small suppliers: only a purchase order tells.
        return "supplier" if PURCHASE_ORDER.search(subject) else "customer"
    if _tokens(domain) & CARRIER_WORDS or _tokens(name) & CARRIER_WORDS:
        return "carrier"
    if _has_supplier_word(f"{local} {domain} {name}") or SUPPLIER_SUBJECT.search(subject):
        return "supplier"
    return "unknown" if is_automated(headers, local) else "customer"


def _has_supplier_word(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in SUPPLIER_WORDS)
