"""Field extraction without an LLM: order ids, tracking numbers, dates, slots, addresses.

Patterns find what is written plainly; the LLM path fills what they miss. Costly extractions
(dates, addresses) run only for the categories that use them, so the local classifier stays fast.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from tidings import patterns
from tidings.classifiers.text import unquoted
from tidings.classifiers.types import ClassifyContext, EmailInput, ExtractedFields
from tidings.domain import Address

# An id as shops write them: KAP-240311, RBS-20261118-044, KPS-MY-7782, OD43120987612,
# INV/20261118/MPL/3471120, 4021-7781, 58702.
_ID = (
    r"(?:[A-Z]{2,6}(?:[-/][A-Z]{2,5})*[-/]?\d{3,14}(?:[-/][A-Z0-9]{2,10})*"
    r"|\d{2,4}/[A-Z]{2,5}(?:/[A-Z0-9]{1,6}){1,3}"  # PO 77/SA/2026, 91/SA/XII/2026
    r"|\d{4,12}(?:-\d{3,6})?)"
)
# An id right after the word that names it wins over a bare shape (a shipment id may come first).
ORDER_LABELLED = re.compile(
    r"(?:order|pesanan|ऑर्डर|आर्डर|PO|invoice|inv)\s*(?:no\.?|number|id|nomor|num|नंबर|संख्या)?"
    rf"\s*[:#.]?\s*#?\s*({_ID})\b",
    re.IGNORECASE,
)
GENERIC_ORDER_IDS = [
    r"\b[A-Z]{2,6}(?:-[A-Z]{2,4})?-\d{4,14}(?:-\d{2,4})?\b",  # KAP-240311, KPS-MY-7782
    r"\bOD\d{10,18}\b",  # marketplace style
    r"\b[A-Z]{2,5}/\d{6,8}/[A-Z]{2,5}/\d{5,10}\b",  # marketplace invoice numbers
    r"(?<![\w&])#\s?(\d{4,10})\b",  # "#59011": a bare number with a hash, in the last resort
]
# A tracking number after the word that names it: AWB, resi, CN, LR, bilty...
_TRACKING_ID = r"([A-Z]{0,5}\d{6,18}[A-Z]{0,3}|\d{4}(?: \d{4}){2,3})"
_CARRIERS = r"(?:\s+(?:jne|j&t|sicepat|anteraja|dhl|fedex|ups|gdex|ekart|delhivery|dtdc|pos))?"
TRACKING_LABELLED = re.compile(
    r"(?:awb|tracking|resi|consignment|waybill|airway bill|c/?n|kiriman|shipment|parcel|paket"
    r"|bungkusan|ट्रैकिंग|शिपमेंट|पार्सल)\s*(?:no\.?|number|num|id|#|nomor|नंबर|:)?"
    rf"{_CARRIERS}\s*[:#-]?\s*{_TRACKING_ID}(?![\w-])",
    re.IGNORECASE,
)
# Road transport receipts are short numbers: "LR 615509", "bilty 5582".
CONSIGNMENT_NOTE = re.compile(r"\b(?:lr|bilty|builty|docket)\s*(?:no\.?|#|:)?\s*(\d{4,12})\b", re.I)
TRACKING_SHAPES = [
    r"\b[A-Z]{2}\d{9}[A-Z]{2}\b",  # UPU / postal: EM123456789IN, EP123456789MY
    r"\bJ[PXT]\d{10}\b",  # J&T
    r"\bNV[A-Z]{2}[A-Z0-9]{8,16}\b",  # Ninja Van
    r"\bSF\d{9}FPL\b",  # Shadowfax
    r"\bFMP[CP]\d{10}\b",  # Ekart
    r"\b\d{2}LP\d{10}\b",  # Lion Parcel
    r"(?<![+\w])\d{12,13}(?!\d)",  # Delhivery, J&T Malaysia, SiCepat
    r"\b[A-Z]{2,4}\d{9,14}(?:[A-Z]{2,3})?\b",  # most carriers: a short prefix and digits
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
WEEKDAY_OF = {name: weekday for weekday, names in WEEKDAYS.items() for name in names}
# One pass over the text, longest words first: "day after tomorrow" is not also "tomorrow".
DAY_WORD = re.compile(
    r"(?<!\w)(?:"
    + "|".join(sorted(map(re.escape, [*RELATIVE_DAYS, *WEEKDAY_OF]), key=len, reverse=True))
    + r")(?!\w)"
)
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
# Month names in en/hi/id/ms, and the days written with them or alone.
MONTHS = {
    name: number
    for number, names in enumerate(
        [
            "january jan januari जनवरी",
            "february feb februari फ़रवरी फरवरी",
            "march mar maret mac मार्च",
            "april apr अप्रैल",
            "may mei मई",
            "june jun juni जून",
            "july jul juli julai जुलाई",
            "august aug agustus ogos ogo अगस्त",
            "september sept sep सितंबर सितम्बर",
            "october oct oktober okt अक्टूबर अक्तूबर",
            "november nov नवंबर नवम्बर",
            "december dec desember disember dis des दिसंबर दिसम्बर",
        ],
        start=1,
    )
    for name in names.split()
}
_MONTH = "|".join(sorted(map(re.escape, MONTHS), key=len, reverse=True))
DAY_MONTH = re.compile(
    rf"(?<![\w/.:-])(?P<day>[0-3]?\d)(?:st|nd|rd|th|hb)?\s*(?:of\s+)?(?P<month>{_MONTH})(?!\w)"
    rf"(?:,?\s*(?P<year>20\d\d))?"
    rf"|(?<!\w)(?P<month2>{_MONTH})\s+(?P<day2>[0-3]?\d)(?:st|nd|rd|th)?(?![\w:])"
)
DAY_ONLY = re.compile(
    r"(?:tanggal|tgl\.?|tarikh)\s*(?P<day>[0-3]?\d)(?![\w:/.])"
    r"|(?<![\w/.:-])(?P<day2>[0-3]?\d)\s*(?:hb|तारीख|tarikh)(?!\w)"
)
# A date the sender names as the past is never the day they ask for: "since 18 November",
# "sejak 18 November", "ordered on the 2nd", "18 नवंबर से इंतज़ार". Cues before the date (en, id,
# ms) and after it (Hindi puts "since" after the date).
PAST_BEFORE = re.compile(
    r"(?:\bsince|\bsejak|\bsemenjak|\bever since|\b(?:ordered|placed|bought|purchased|paid|"
    r"shipped|dispatched)\s+(?:it\s+|this\s+)?on|\b(?:dipesan|dibeli|dibayar|dikirim|ditempah|"
    r"dibuat)\s+(?:pada\s+|tanggal\s+|tgl\.?\s*|tarikh\s+)?)\s*(?:the\s+)?(?:tanggal\s+|tgl\.?\s*)?$"
)
PAST_AFTER = re.compile(
    r"^\s*(?:को\s+)?(?:से\s+(?:इंतज़ार|इंतजार|wait|intezaar)|से\s+अब\s+तक"
    r"|को\s+(?:ऑर्डर|आर्डर|order)\s+(?:किया|kiya))"
)
# Without a year, a date that has passed this year means next year's only when that is soon
# ("28 Januari" written in November); further off, it was a date in the past.
ROLLOVER_DAYS = 120
DATE_CATEGORIES = {"delivery_reschedule", "failed_delivery_attempt", "carrier_delay"}
ADDRESS_CATEGORIES = {"address_change", "address_undeliverable"}


def _first(patterns: list[str], text: str, flags: int = 0) -> str | None:
    for pattern in patterns:
        match = re.search(pattern, text, flags)
        if match:
            return (match.group(1) if match.groups() else match.group(0)).strip()
    return None


def find_order_id(text: str, brand_patterns: list[str]) -> str | None:
    """The first order id by the brand's patterns (checked, and run with a time limit: they are
    the operator's), else the one named as an order, else one by generic shapes."""
    for pattern in brand_patterns:
        match = patterns.search(patterns.compile_checked(pattern), text)
        if match:
            return str(match.group(1) if match.groups() else match.group(0)).strip()
    labelled = ORDER_LABELLED.search(text)
    if labelled and any(ch.isdigit() for ch in labelled.group(1)):
        return labelled.group(1)
    return _first(GENERIC_ORDER_IDS, text, re.IGNORECASE)


def find_tracking_number(text: str, order_id: str | None) -> str | None:
    """A labelled tracking number ("AWB: ...", "resi ...", "CN ..."), else a known carrier shape;
    never the order id."""
    for match in (*TRACKING_LABELLED.finditer(text), *CONSIGNMENT_NOTE.finditer(text)):
        if match.group(1) != order_id:
            return match.group(1)
    for pattern in TRACKING_SHAPES:
        for match in re.finditer(pattern, text):
            if match.group(0) != order_id and (not order_id or match.group(0) not in order_id):
                return match.group(0)
    return None


def find_requested_date(text: str, sent_on: date | None) -> date | None:
    """The day the sender asks for, against the sending date: the last date written out
    ("4 दिसंबर", "tanggal 9", "14hb", "2nd January 2027"), else the last relative word or
    weekday. The last, because people state what does not suit them before what does ("not
    tomorrow, parso"; "away till the 16th, deliver on the 18th")."""
    base = sent_on or datetime.now(UTC).date()
    lowered = unquoted(text).lower()
    explicit = _written_dates(lowered, base)
    if explicit:
        return max(explicit)[1]
    last: date | None = None
    for match in DAY_WORD.finditer(lowered):
        word = match.group(0)
        if word in RELATIVE_DAYS:
            last = base + timedelta(days=RELATIVE_DAYS[word])
        else:
            last = base + timedelta(days=(WEEKDAY_OF[word] - base.weekday()) % 7 or 7)
    return last


def _written_dates(lowered: str, base: date) -> list[tuple[int, date]]:
    """(position, date) of every date written with a day: with a month name, or a day alone
    after "tanggal"/before "hb"/"तारीख" (the next such day)."""
    found: list[tuple[int, date]] = []
    spans: list[tuple[int, int]] = []
    for match in DAY_MONTH.finditer(lowered):
        spans.append(match.span())
        if _named_as_past(lowered, match):
            continue
        day_text = match.group("day") or match.group("day2")
        day, month = int(day_text), MONTHS[match.group("month") or match.group("month2")]
        year = int(match.group("year")) if match.group("year") else None
        when = _next_date(base, day, month, year)
        if when is not None:
            found.append((match.start(), when))
    for match in DAY_ONLY.finditer(lowered):
        if any(start < match.end() and match.start() < end for start, end in spans):
            continue  # "tanggal 9 November": the day and month are already there
        if _named_as_past(lowered, match):
            continue
        day = int(match.group("day") or match.group("day2"))
        month, year = base.month, base.year
        if day < base.day:
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
        when = _next_date(base, day, month, year)
        if when is not None:
            found.append((match.start(), when))
    return found


def _named_as_past(lowered: str, match: re.Match[str]) -> bool:
    """Whether the words around a date say it is in the past ("since", "sejak", "से इंतज़ार")."""
    before = lowered[max(0, match.start() - 30) : match.start()]
    return bool(PAST_BEFORE.search(before) or PAST_AFTER.match(lowered[match.end() :]))


def _next_date(base: date, day: int, month: int, year: int | None) -> date | None:
    """That day and month in ``year``, or on or after ``base`` when no year is written (next
    year's only when that is near: a day long gone this year was the past, not a request)."""
    try:
        when = date(year or base.year, month, day)
    except ValueError:
        return None
    if year is None and when < base - timedelta(days=1):
        try:
            when = date(base.year + 1, month, day)
        except ValueError:
            return None
        if when > base + timedelta(days=ROLLOVER_DAYS):
            return None
    return when


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
