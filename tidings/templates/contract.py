"""The template contract in code: events, channels, languages, sections and limits.

docs/templates.md is the prose version; the two must agree.
"""

from __future__ import annotations

from typing import Final

from tidings.store.enums import ChannelKind

EVENTS: Final = (
    "order_confirmed",
    "shipped",
    "out_for_delivery",
    "delivered",
    "delayed",
    "back_on_track",
    "address_confirmation_request",
    "address_updated",
    "reschedule_options",
    "reschedule_confirmed",
    "failed_attempt",
    "customs_action_needed",
    "backorder_update",
    "partial_shipment",
    "cancellation_confirmed",
    "case_reply",
)

CHANNELS: Final = (ChannelKind.WHATSAPP, ChannelKind.SMS, ChannelKind.EMAIL)

# Babel locale per supported language.
LOCALES: Final = {"en": "en_IN", "hi": "hi_IN", "id": "id_ID", "ms": "ms_MY"}
LANGUAGES: Final = tuple(LOCALES)
FALLBACK_LANGUAGE: Final = "en"

# A plausible time zone per language, for previews when no customer is at hand.
PREVIEW_TIME_ZONES: Final = {
    "en": "Asia/Kolkata",
    "hi": "Asia/Kolkata",
    "id": "Asia/Jakarta",
    "ms": "Asia/Kuala_Lumpur",
}

# Sections every message has.
BASE_SECTIONS: Final = ("customer", "brand", "order", "shipment", "links")

# Sections that come only with some events.
EVENT_SECTIONS: Final[dict[str, tuple[str, ...]]] = {
    "order_confirmed": (),
    "shipped": (),
    "out_for_delivery": (),
    "delivered": (),
    "delayed": ("delay",),
    "back_on_track": (),
    "address_confirmation_request": ("address",),
    "address_updated": ("address",),
    "reschedule_options": ("reschedule",),
    "reschedule_confirmed": ("reschedule",),
    "failed_attempt": ("attempt", "reschedule"),
    "customs_action_needed": ("customs",),
    "backorder_update": ("backorder",),
    "partial_shipment": ("partial",),
    "cancellation_confirmed": ("cancellation",),
    "case_reply": ("case",),
}

# Events sent before a parcel exists: shipment has no carrier or tracking yet.
UNSHIPPED_EVENTS: Final = frozenset(
    {
        "order_confirmed",
        "address_updated",
        "backorder_update",
        "cancellation_confirmed",
        "case_reply",
    }
)

# Channel limits the validator enforces.
SMS_MAX_SEGMENTS: Final = 3
WHATSAPP_MAX_CHARS: Final = 1024
EMAIL_SUBJECT_MAX_CHARS: Final = 120

# Sandbox limits: what a brand manager's template may cost one render.
MAX_SOURCE_CHARS: Final = 20_000
MAX_OUTPUT_CHARS: Final = 20_000
MAX_VALUE_CHARS: Final = 20_000  # any string built while rendering
MAX_SEQUENCE_ITEMS: Final = 1_000  # any list built while rendering; also range()
MAX_LOOP_ITERATIONS: Final = 10_000  # all loops of one render together
MAX_INT_BITS: Final = 4_096
RENDER_TIME_BUDGET_S: Final = 0.25  # checked cooperatively: loop turns and calls
# The watchdog's hard stop, later than the budget: an async exception can land anywhere (even in
# a garbage collector callback), so it is the last resort, not the usual way a render stops.
HARD_TIME_LIMIT_S: Final = 0.5
COMPILE_TIME_BUDGET_S: Final = 2.0

BUNDLED_AUTHOR: Final = "tidings"
DEFAULT_SCOPE: Final = "_default"


# Events that may be about no order at all: a reply to someone who has not named one yet.
ORDERLESS_EVENTS: Final = frozenset({"case_reply"})


def sections_for(event: str) -> tuple[str, ...]:
    """The variable sections a message for ``event`` has."""
    base: tuple[str, ...] = BASE_SECTIONS
    if event in ORDERLESS_EVENTS:
        base = tuple(name for name in base if name not in ("order", "shipment"))
    return base + EVENT_SECTIONS[event]
