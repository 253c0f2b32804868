"""Realistic sample variables, per event and language, for previews, validation and tests.

``sparse=True`` leaves every optional value empty (no ETA, no delay reason, no slot...), so the
validator can prove a template guards its optional values.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from tidings.config.brands import Brand
from tidings.errors import TemplateError
from tidings.store.enums import ChannelKind
from tidings.templates.contract import EVENTS, LOCALES, UNSHIPPED_EVENTS, sections_for
from tidings.templates.variables import brand_vars, parse_variables

_PLACED = dt.datetime(2026, 12, 8, 5, 0, tzinfo=dt.UTC)
_ETA = dt.date(2026, 12, 12)

_BY_LANGUAGE: Final[dict[str, dict[str, Any]]] = {
    "en": {
        "customer": ("Asha Rao", "Asha"),
        "currency": "INR",
        "carrier": "Delhivery",
        "address": "Flat 4B, Lakeview Apartments, 12 MG Road, Bengaluru, Karnataka 560001",
        "delay_reason": "heavy rain in the region",
        "reply_hint": "Reply 1, 2 or 3 to choose a day.",
        "slot": "10am-2pm",
        "attempt_reason": "no one was available to receive the parcel",
        "customs_action": "pay the import duty online on the courier's website",
        "case_reply": "We have asked the courier to deliver your parcel on Saturday. You will "
        "get a message when it is out for delivery.",
    },
    "hi": {
        "customer": ("रोहित वर्मा", "रोहित"),
        "currency": "INR",
        "carrier": "Delhivery",
        "address": "मकान 21, गली 4, राजेंद्र नगर, लखनऊ, उत्तर प्रदेश 226004",
        "delay_reason": "इलाके में भारी बारिश",
        "reply_hint": "दिन चुनने के लिए 1, 2 या 3 लिखकर जवाब दें।",
        "slot": "सुबह 10 से दोपहर 2 बजे",
        "attempt_reason": "पार्सल लेने के लिए कोई मौजूद नहीं था",
        "customs_action": "कूरियर की वेबसाइट पर आयात शुल्क का ऑनलाइन भुगतान करें",
        "case_reply": "हमने कूरियर से आपका पार्सल शनिवार को पहुँचाने के लिए कहा है। डिलीवरी के लिए "
        "निकलते ही आपको संदेश मिलेगा।",
    },
    "id": {
        "customer": ("Siti Rahayu", "Siti"),
        "currency": "IDR",
        "carrier": "JNE",
        "address": "Jl. Melati No. 12, RT 03/RW 05, Kebayoran Baru, Jakarta Selatan 12130",
        "delay_reason": "cuaca buruk di wilayah tujuan",
        "reply_hint": "Balas 1, 2, atau 3 untuk memilih hari.",
        "slot": "10.00-14.00",
        "attempt_reason": "tidak ada orang di alamat untuk menerima paket",
        "customs_action": "bayar bea masuk secara online di situs kurir",
        "case_reply": "Kami sudah meminta kurir mengantar paket Anda pada hari Sabtu. Anda akan "
        "menerima pesan saat paket sedang diantar.",
    },
    "ms": {
        "customer": ("Nur Aisyah binti Ahmad", "Aisyah"),
        "currency": "MYR",
        "carrier": "Pos Laju",
        "address": "No. 8, Jalan SS 2/24, 47300 Petaling Jaya, Selangor",
        "delay_reason": "cuaca buruk di kawasan penghantaran",
        "reply_hint": "Balas 1, 2 atau 3 untuk memilih hari.",
        "slot": "10 pagi - 2 petang",
        "attempt_reason": "tiada orang di alamat untuk menerima bungkusan",
        "customs_action": "bayar duti import dalam talian di laman web kurier",
        "case_reply": "Kami telah meminta kurier menghantar bungkusan anda pada hari Sabtu. Anda "
        "akan menerima mesej apabila ia dalam penghantaran.",
    },
}

_ITEMS: Final = {
    "kapas": (("Block-print cotton kurta", 1), ("Chanderi silk dupatta", 2)),
    "seri": (("Vitamin C brightening serum", 1), ("Daily gel sunscreen SPF 50", 1)),
    "griha": (("Handloom cotton bedsheet set", 1), ("Jute cushion cover", 2)),
}
_DEFAULT_ITEMS: Final = (("Cotton tote bag", 1), ("Ceramic mug", 2))
_AMOUNTS: Final = {"INR": "2499.00", "MYR": "189.00", "IDR": "459000"}
_ORDER_PREFIX: Final = {"kapas": "KAP-10", "seri": "SERI-", "griha": "GRH-10"}
_SAMPLE_BRAND: Final = {
    "name": "Tidings Demo Shop",
    "sign_off": "Warm regards, the Tidings Demo Shop team",
    "support_email": "help@shop.example",
}


def sample_variables(
    event: str,
    language: str,
    *,
    brand: Brand | None = None,
    channel: ChannelKind | None = None,
    sparse: bool = False,
) -> dict[str, Any]:
    """Sample variables for ``event`` in ``language``, as JSON (what the outbox stores)."""
    if event not in EVENTS:
        raise TemplateError(f"unknown event {event!r}; events: {', '.join(EVENTS)}")
    if language not in LOCALES:
        raise TemplateError(f"unknown language {language!r}; languages: {', '.join(LOCALES)}")
    words = _BY_LANGUAGE[language]
    currency = brand.currency if brand else words["currency"]
    amount = _AMOUNTS.get(currency, "100.00")
    items = _ITEMS.get(brand.slug, _DEFAULT_ITEMS) if brand else _DEFAULT_ITEMS
    number = f"{_ORDER_PREFIX.get(brand.slug, 'TDS-10') if brand else 'TDS-10'}0234"
    name, first_name = words["customer"]
    data: dict[str, Any] = {
        "customer": {"name": name, "first_name": first_name},
        "brand": brand_vars(brand) if brand else dict(_SAMPLE_BRAND),
        "order": {
            "number": number,
            "total": {"amount": amount, "currency": currency},
            "placed_at": _PLACED.isoformat(),
            "items": [{"name": item, "quantity": qty} for item, qty in items],
        },
        "shipment": _shipment(event, words, sparse),
        "links": {"help": f"https://help.shop.example/{language}"},
    }
    if channel in (None, ChannelKind.EMAIL):
        data["links"]["unsubscribe"] = "https://shop.example/unsubscribe/7f3a9c"
    extra = _sections(event, words, sparse, amount, currency, [item for item, _ in items])
    data.update({key: value for key, value in extra.items() if key in sections_for(event)})
    for base in ("order", "shipment"):
        if base not in sections_for(event):
            del data[base]
    return parse_variables(data).model_dump(mode="json")


def _shipment(event: str, words: dict[str, Any], sparse: bool) -> dict[str, Any]:
    eta = None if sparse else _ETA.isoformat()
    if event in UNSHIPPED_EVENTS:
        return {"eta": eta}
    return {
        "carrier_name": words["carrier"],
        "tracking_number": "DL7730142296IN" if words["currency"] == "INR" else "JP4410029876",
        "tracking_url": "https://track.shop.example/p/DL7730142296IN",
        "eta": eta,
    }


def _sections(
    event: str, words: dict[str, Any], sparse: bool, amount: str, currency: str, names: list[str]
) -> dict[str, Any]:
    def day(offset: int) -> str | None:
        return None if sparse else (_ETA + dt.timedelta(days=offset)).isoformat()

    money = None if sparse else {"amount": amount, "currency": currency}
    options = [(_ETA + dt.timedelta(days=offset)).isoformat() for offset in (2, 3, 4)]
    confirmed = event == "reschedule_confirmed"
    return {
        "delay": {"new_eta": day(3), "reason": "" if sparse else words["delay_reason"]},
        "address": {"one_line": words["address"]},
        "reschedule": {
            "options": [] if confirmed else options,
            "date": options[0] if confirmed else None,
            "slot": words["slot"] if confirmed and not sparse else None,
            "reply_hint": "" if confirmed else words["reply_hint"],
        },
        "attempt": {"next_attempt": day(1), "reason": "" if sparse else words["attempt_reason"]},
        "customs": {
            "action": words["customs_action"],
            "deadline": day(5),
            "amount": None
            if sparse
            else {
                "amount": _AMOUNTS["IDR"] if currency == "IDR" else "850.00",
                "currency": currency,
            },
        },
        "backorder": {"items": names[-1:], "eta": day(10)},
        "partial": {"shipped_items": names[:1], "pending_items": names[1:], "pending_eta": day(6)},
        "cancellation": {"refund_amount": money, "refund_days": 7},
        "case": {"reference": "CASE-48213", "reply": words["case_reply"]},
    }
