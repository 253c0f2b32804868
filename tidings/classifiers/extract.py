"""Field extraction without an LLM: order ids, tracking numbers, dates, slots, addresses.

Patterns find what is written plainly; the LLM path fills what they miss. Costly extractions
(dates, addresses) run only for the categories that use them, so the local classifier stays fast.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from tidings.classifiers.types import ClassifyContext, EmailInput, ExtractedFields
from tidings.domain import Address

GENERIC_ORDER_IDS = [
    r"\b[A-Z]{2,6}-\d{4,8}\b",  # KAP-240311, SERI-88102
    r"\bOD\d{12,18}\b",  # marketplace style
    r"(?:order|pesanan|ऑर्डर|PO)\s*(?:no\.?|number|id|#|nomor|:)?\s*[:#]?\s*(\d{4,}(?:-\d{3,})?)\b",
]
TRACKING_LABELLED = re.compile(
    r"(?:awb|tracking|resi|consignment|waybill|ट्रैकिंग)\s*(?:no\.?|number|num|id|#|nomor|:)?"
    r"\s*[:#-]?\s*([A-Z]{0,4}\d{8,18}[A-Z]{0,2})\b",
    re.IGNORECASE,
)
TRACKING_SHAPES = [
    r"\b[A-Z]{2}\d{9}(?:IN|MY|ID)\b",  # UPU / postal: EM123456789IN, EP123456789MY
    r"\bJ[PXT]\d{10}\b",  # J&T
    r"\bNV[A-Z]{2}[A-Z0-9]{8,12}\b",  # Ninja Van
    r"\b\d{13}\b",  # Delhivery-like
]
SLOT = re.compile(
    r"(?:after|before|by|between|from|selepas|sebelum|setelah|sesudah|lepas|के बाद|से पहले)"
    r"\s+\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.|baje|बजे)?(?:\s*(?:-|to|and|sampai|hingga)"
    r"\s*\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|baje|बजे)?)?"
    r"|\b(?:morning|afternoon|evening|pagi|siang|sore|petang|malam|subah|shaam|सुबह|दोपहर|शाम)\b",
    re.IGNORECASE,
)
# Relative day words in en/hi/id/ms and how many days ahead they mean. "kal"/"कल" is both
# yesterday and tomorrow in Hindi; in a request about delivery it means tomorrow.
RELATIVE_DAYS = {
    "today": 0,
    "aaj": 0,
    "आज": 0,
    "hari ini": 0,
    "tomorrow": 1,
    "kal": 1,
    "कल": 1,
    "besok": 1,
    "esok": 1,
    "day after tomorrow": 2,
    "parso": 2,
    "parson": 2,
    "परसों": 2,
    "lusa": 2,
}
WEEKDAYS = {
    0: ["monday", "somvar", "सोमवार", "senin", "isnin"],
    1: ["tuesday", "mangalvar", "मंगलवार", "selasa"],
    2: ["wednesday", "budhvar", "बुधवार", "rabu"],
    3: ["thursday", "guruvar", "गुरुवार", "kamis", "khamis"],
    4: ["friday", "shukravar", "शुक्रवार", "jumat", "jumaat"],
    5: ["saturday", "shanivar", "शनिवार", "sabtu"],
    6: ["sunday", "ravivar", "रविवार", "minggu", "ahad"],
}
# A postcode stands alone: not the digits of an order id (GRH-510077) or a phone number.
POSTCODE = {
    "IN": re.compile(r"(?<![\w-])[1-9]\d{2}\s?\d{3}(?![\w-])"),
    "XX5": re.compile(r"(?<![\w-])\d{5}(?![\w-])"),
}
MAX_ADDRESS_LINE = 90  # longer lines are prose, not an address
MAX_CITY = 40
ADDRESS_LABEL = re.compile(
    r"(?:new|correct|updated|delivery|shipping)?\s*address|alamat(?: baru)?|पता|naya pata"
    r"|deliver (?:it )?to|send (?:it )?to|hantar ke|kirim ke",
    re.I,
)
DATE_CATEGORIES = {"delivery_reschedule", "failed_delivery_attempt", "carrier_delay"}
ADDRESS_CATEGORIES = {"address_change", "address_undeliverable"}


def _first(patterns: list[str], text: str, flags: int = 0) -> str | None:
    for pattern in patterns:
        match = re.search(pattern, text, flags)
        if match:
            return (match.group(1) if match.groups() else match.group(0)).strip()
    return None


def find_order_id(text: str, brand_patterns: list[str]) -> str | None:
    """The first order id by the brand's patterns, else by generic shapes."""
    return _first(brand_patterns, text) or _first(GENERIC_ORDER_IDS, text, re.IGNORECASE)


def find_tracking_number(text: str, order_id: str | None) -> str | None:
    """A labelled tracking number ("AWB: ...", "resi ..."), else a known carrier shape."""
    labelled = TRACKING_LABELLED.search(text)
    if labelled:
        return labelled.group(1)
    found = _first(TRACKING_SHAPES, text)
    return found if found != order_id else None


def find_requested_date(text: str, sent_on: date | None) -> date | None:
    """A day the sender asks for: relative words and weekdays against the sending date."""
    base = sent_on or datetime.now(UTC).date()
    lowered = text.lower()
    hits: list[tuple[int, date]] = []
    for word, days in RELATIVE_DAYS.items():
        for match in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", lowered):
            hits.append((match.start(), base + timedelta(days=days)))
    for weekday, names in WEEKDAYS.items():
        for name in names:
            for match in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", lowered):
                ahead = (weekday - base.weekday()) % 7 or 7
                hits.append((match.start(), base + timedelta(days=ahead)))
    return min(hits)[1] if hits else None


def find_slot(text: str) -> str | None:
    """A time window such as "after 6 pm", "pagi", "शाम"."""
    match = SLOT.search(text)
    return match.group(0).strip() if match else None


def find_address(text: str, language: str | None) -> Address | None:
    """The address block ending in a postcode, after the last line that announces an address
    ("new address:", "alamat baru", "deliver to:"); a blank line or prose ends a block."""
    lines = [line.strip(" ,.>*") for line in text.splitlines()]
    labelled = [i for i, line in enumerate(lines) if ADDRESS_LABEL.search(line)]
    start = labelled[-1] if labelled else 0
    for i in range(start, len(lines)):
        if len(lines[i]) > MAX_ADDRESS_LINE:
            continue
        country, code = _postcode(lines[i], language)
        if code:
            block: list[str] = []
            for line in reversed(lines[max(start, i - 4) : i + 1]):
                if not line or len(line) > MAX_ADDRESS_LINE:
                    break
                block.insert(0, line)
            block = [line for line in block if not _is_label_only(line)]
            return _address_from(block, code, country) if block else None
    return None


def _is_label_only(line: str) -> bool:
    """A line that announces an address without holding one ("Please deliver to:")."""
    head, colon, rest = line.partition(":")
    if colon:
        return bool(ADDRESS_LABEL.search(head)) and not rest.strip()
    return bool(ADDRESS_LABEL.search(line)) and not any(ch.isdigit() for ch in line)


def _postcode(line: str, language: str | None) -> tuple[str | None, str | None]:
    match = POSTCODE["IN"].search(line)
    if match and language in (None, "en", "hi"):
        return "IN", match.group(0).replace(" ", "")
    match = POSTCODE["XX5"].search(line)
    if match:
        return ("MY" if language == "ms" else "ID" if language == "id" else None), match.group(0)
    return None, None


def _address_from(block: list[str], postcode: str, country: str | None) -> Address:
    last = block[-1]
    before_code, _, after_code = (part.strip(" ,-") for part in last.partition(postcode))
    parts = [p.strip() for p in before_code.split(",") if p.strip()]
    if not parts and after_code:  # "81200 Johor Bahru": the town follows the poskod
        parts = [after_code.split(",")[0].strip()]
    city = parts[-1] if parts and len(parts[-1]) <= MAX_CITY else None
    lines = [*block[:-1], *parts[:-1]]
    # A label line such as "New address: Flat 2" keeps its content after the colon.
    lines = [
        ln.split(":", 1)[1].strip()
        if ":" in ln and ADDRESS_LABEL.search(ln.split(":", 1)[0])
        else ln
        for ln in lines
    ]
    return Address(lines=[ln for ln in lines if ln], city=city, postcode=postcode, country=country)


def extract_fields(
    email: EmailInput, context: ClassifyContext, *, label: str | None = None
) -> ExtractedFields:
    """What the patterns find; dates and addresses only for the categories that use them."""
    text = f"{email.subject}\n{email.text}"
    order_id = find_order_id(text, context.order_id_patterns)
    fields = ExtractedFields(
        order_id=order_id, tracking_number=find_tracking_number(text, order_id)
    )
    if label is None or label in DATE_CATEGORIES:
        fields.requested_date = find_requested_date(email.text, email.sent_on)
        fields.requested_slot = find_slot(email.text)
    if label is None or label in ADDRESS_CATEGORIES:
        fields.new_address = find_address(email.text, email.language)
    return fields
