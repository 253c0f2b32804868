"""What provider webhooks may carry, typed and bounded before anything is stored.

A signed payload can still be hostile (a leaked key, a provider's bug): a number no row id can
be, a string longer than its column, nesting deep enough to exhaust the stack. Each is a
``ValueError`` here, which the routes answer with 400, instead of an error inside the database.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

MAX_ROW_ID = 2**63 - 1  # BIGINT: a larger notification hint overflows the database
MAX_DEPTH = 8  # SendGrid events are flat objects with a few lists; anything deeper is not one


def row_id(value: str | int | None) -> int | None:
    """A notification id a provider echoes back; ``ValueError`` for what no row id can be."""
    if value is None:
        return None
    text = str(value)
    if text.isascii() and text.isdigit() and len(text) <= 19 and 0 < int(text) <= MAX_ROW_ID:
        return int(text)
    raise ValueError("not a notification id")


class SendGridEvent(BaseModel):
    """The fields of a SendGrid event that Tidings reads, typed and bounded by the columns they
    go into; the others are kept as they came."""

    model_config = ConfigDict(extra="allow", strict=True)

    event: str = Field(max_length=32)
    sg_message_id: str = Field(default="", max_length=200)
    sg_event_id: str | None = Field(default=None, max_length=160)
    timestamp: int | float | None = None
    # Our custom arg (``sendgrid.NOTIFICATION_ARG``); custom args arrive as strings.
    tidings_notification_id: int | None = None

    _row_id = field_validator("tidings_notification_id", mode="before")(row_id)


_EVENTS = TypeAdapter(list[SendGridEvent])


def parse_events(body: str) -> list[SendGridEvent]:
    """A verified event webhook body as events; ``ValueError`` for anything SendGrid would not
    send, naming where (never echoing the input)."""
    try:
        events = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError("the event webhook body is not JSON") from exc
    if not isinstance(events, list):
        raise ValueError("the event webhook body must be a JSON array")
    if deeper_than(events, MAX_DEPTH):
        raise ValueError(f"the events nest deeper than {MAX_DEPTH} levels")
    try:
        return _EVENTS.validate_python(events)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"not a SendGrid event batch: event {where}: {first['msg']}") from exc


def deeper_than(value: Any, limit: int) -> bool:
    """Whether a JSON value nests containers more than ``limit`` levels deep (iteratively, so
    the check itself cannot run out of stack)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if children and depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
