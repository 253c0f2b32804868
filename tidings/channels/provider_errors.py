"""Turn provider failures into ``ChannelError``s that say whether a retry can help.

- 429 and 503: transient, nothing was sent (the provider said it took nothing). A proxy of
  your own between Tidings and the provider must not answer 503 after forwarding a request.
- 500, 502, 504 and 408: the provider, or a gateway in front of it, failed while handling the
  request, so the message may be out (``ChannelOutcomeUnknownError``). Neither Twilio's nor
  SendGrid's send takes an idempotency key: retrying these blindly is how customers get a
  message twice.
- Other 4xx: permanent; the request broke the provider's contract or was refused.
- Connection refused, DNS failure, connect timeout: transient, nothing was sent.
- Read timeout, connection dropped after the request went out: the provider may have accepted
  it, so the message may be out (``ChannelOutcomeUnknownError``).
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TypeVar

import requests
from twilio.base.exceptions import TwilioRestException

from tidings.errors import (
    ChannelError,
    ChannelOutcomeUnknownError,
    ChannelRejectedError,
    ChannelThrottledError,
)
from tidings.store.base import utcnow

T = TypeVar("T")

_AUTH_HINT = {
    "twilio": "check TIDINGS_TWILIO__ACCOUNT_SID and TIDINGS_TWILIO__AUTH_TOKEN",
    "sendgrid": "check TIDINGS_SENDGRID__API_KEY",
}


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header: seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


def from_status(
    provider: str, status: int, detail: str, *, retry_after: float | None = None
) -> ChannelError:
    """The error for an HTTP error status from a provider."""
    message = f"{provider} answered {status}: {detail[:500]}"
    if status == 429:
        return ChannelThrottledError(message, retry_after=retry_after)
    if status == 503:
        return ChannelError(message)
    if status >= 500 or status == 408:
        return ChannelOutcomeUnknownError(message)
    if status in (401, 403):
        return ChannelRejectedError(f"{message}; {_AUTH_HINT.get(provider, 'check credentials')}")
    return ChannelRejectedError(message)


def from_requests(provider: str, exc: requests.RequestException) -> ChannelError:
    """The error for a failure of the ``requests`` library (the twilio SDK's transport)."""
    if isinstance(exc, requests.ConnectTimeout):
        return ChannelError(f"{provider}: connect timed out: {exc}")
    if isinstance(exc, requests.ReadTimeout):
        return ChannelOutcomeUnknownError(f"{provider}: no answer in time: {exc}")
    if isinstance(exc, requests.ConnectionError) and _never_connected(exc):
        return ChannelError(f"{provider}: cannot connect: {exc}")
    return ChannelOutcomeUnknownError(f"{provider}: connection failed mid-request: {exc}")


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the failure happened while opening the connection (refused, DNS, unreachable),
    before any byte of the request was written."""
    text = repr(exc)
    return any(
        marker in text
        for marker in ("NewConnectionError", "NameResolutionError", "Connection refused")
    )


def from_urllib(provider: str, exc: OSError) -> ChannelError:
    """The error for a failure of ``urllib`` (the sendgrid SDK's transport).

    urllib wraps errors raised while connecting and writing the request in ``URLError``; errors
    while reading the answer come through bare, and by then the provider has the request.
    """
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return ChannelError(f"{provider}: cannot connect: {exc.reason}")
    if isinstance(exc, socket.timeout | TimeoutError):
        return ChannelOutcomeUnknownError(f"{provider}: no answer in time: {exc}")
    if isinstance(exc, http.client.HTTPException | ConnectionError):
        return ChannelOutcomeUnknownError(f"{provider}: connection failed mid-request: {exc!r}")
    return ChannelOutcomeUnknownError(f"{provider}: {exc!r}")


def twilio_call(request: Callable[[], T]) -> T:
    """Run one call of the ``twilio`` SDK; its failures become ``ChannelError``s as above."""
    try:
        return request()
    except TwilioRestException as exc:
        raise from_status("twilio", int(exc.status), f"{exc.code}: {exc.msg}") from exc
    except requests.RequestException as exc:
        raise from_requests("twilio", exc) from exc
