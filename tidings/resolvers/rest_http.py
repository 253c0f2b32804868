"""The HTTP side of ``RestOrderAPI``: one request, its retries, and what each answer means.

Retries sit on the call itself and only where trying again can help: the network failed (refused
or dropped connections, timeouts), or the server said "not now" (429, 502, 503, 504). Every other
answer is the server's verdict and is final. Writes carry an ``Idempotency-Key``, so a retry of a
write whose answer we lost is applied once by the server.

Nothing here logs a URL, a header or a body: order numbers sit in paths and customers' email
addresses and phone numbers in queries, and the token in a header.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from tidings.config.settings import OrderAPISettings
from tidings.errors import ConfigError, OrderAPIUnavailableError, ResolverError
from tidings.logs import get_logger

log = get_logger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# A server asking for a longer pause than this is not waited for inside a worker's step: the
# step fails as transient and the pipeline tries it again later.
MAX_RETRY_AFTER_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 8.0
# The network failed before the server's answer reached us: connect errors, timeouts, resets,
# a connection closed without a response. Trying again can help.
NETWORK_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class Call:
    """One endpoint call: ``endpoint`` names it in errors and logs, never the filled-in path."""

    endpoint: str
    method: str
    path: str
    params: Mapping[str, Any] | None = None
    body: Mapping[str, Any] | None = None
    idempotency_key: str | None = None

    @property
    def label(self) -> str:
        """How errors name the call: the method name, never the path with its values."""
        return f"{self.endpoint} ({self.method})"


class _TransientError(Exception):
    """A failure worth another try; ``retry_after`` is the server's hint in seconds."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class RestClient:
    """Sends ``Call``s to the order API with auth, timeouts and retries on transient failures."""

    def __init__(
        self,
        settings: OrderAPISettings,
        *,
        transport: httpx.BaseTransport | None = None,
        backoff_seconds: float = 0.5,
    ) -> None:
        if not settings.base_url:
            raise ConfigError(
                "TIDINGS_ORDERS__KIND=rest needs the API's root URL in TIDINGS_ORDERS__BASE_URL, "
                "e.g. https://orders.example.com/api"
            )
        self._retries = settings.retries
        self._backoff = wait_exponential_jitter(
            multiplier=backoff_seconds, max=MAX_BACKOFF_SECONDS, jitter=backoff_seconds
        )
        self._where = _origin(settings.base_url)
        self._http = httpx.Client(
            base_url=settings.base_url,
            headers=_headers(settings),
            timeout=httpx.Timeout(settings.timeout_seconds),
            transport=transport,
            follow_redirects=False,  # a redirect would resend the token to wherever it points
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def send(self, call: Call) -> httpx.Response:
        """The server's final answer (2xx, 404 or another verdict), after retrying transient
        failures up to ``retries`` times; ``OrderAPIUnavailableError`` when they persist."""
        retrying = Retrying(
            retry=retry_if_exception_type(_TransientError),
            stop=stop_after_attempt(self._retries + 1),
            wait=self._wait,
            before_sleep=lambda state: _log_retry(call, state),
            reraise=True,
        )
        try:
            return retrying(self._attempt, call)
        except _TransientError as exc:
            tries = self._retries + 1
            raise OrderAPIUnavailableError(
                f"the order API at {self._where} failed {call.label} {tries} time(s), last with "
                f"{exc.reason}: the step is retried later; if it persists, check the service "
                "and TIDINGS_ORDERS__BASE_URL, TIDINGS_ORDERS__TIMEOUT_SECONDS and "
                "TIDINGS_ORDERS__RETRIES"
            ) from exc

    def _attempt(self, call: Call) -> httpx.Response:
        headers = {"Idempotency-Key": call.idempotency_key} if call.idempotency_key else None
        try:
            response = self._http.request(
                call.method, call.path, params=call.params, json=call.body, headers=headers
            )
        except NETWORK_ERRORS as exc:
            raise _TransientError(type(exc).__name__) from exc
        if response.status_code in RETRY_STATUSES:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after > MAX_RETRY_AFTER_SECONDS:
                raise OrderAPIUnavailableError(
                    f"the order API at {self._where} answered {call.label} with "
                    f"{response.status_code} and asked for a {retry_after:.0f} s pause: the step "
                    "is retried later"
                )
            raise _TransientError(f"HTTP {response.status_code}", retry_after)
        return response

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff with jitter, or the server's Retry-After when that is longer."""
        backoff = self._backoff(state)
        failure = state.outcome.exception() if state.outcome else None
        hint = failure.retry_after if isinstance(failure, _TransientError) else None
        return max(backoff, hint or 0.0)


def _headers(settings: OrderAPISettings) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": "tidings"}
    token = settings.token.get_secret_value() if settings.token else ""
    if token and settings.auth_header:
        scheme = settings.auth_scheme.strip()
        headers[settings.auth_header] = f"{scheme} {token}" if scheme else token
    return headers


def _origin(base_url: str) -> str:
    """scheme://host:port only: a base URL may carry credentials or a tenant's path."""
    parts = urlsplit(base_url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: a number, or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _log_retry(call: Call, state: RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome else None
    reason = failure.reason if isinstance(failure, _TransientError) else type(failure).__name__
    pause = state.next_action.sleep if state.next_action else 0.0
    log.warning(
        "order API call retried",
        endpoint=call.endpoint,
        attempt=state.attempt_number,
        reason=reason,
        wait_seconds=round(pause, 2),
    )


def server_message(response: httpx.Response, limit: int = 300) -> str:
    """The refusal's reason as the server words it (``message``, ``detail`` or ``error`` of a
    JSON body, else the text), on one line and cut to ``limit`` characters."""
    text = response.text
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            if isinstance(body.get(key), str) and body[key].strip():
                text = body[key]
                break
    line = " ".join(text.split()) or f"HTTP {response.status_code}"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def refusal(call: Call, response: httpx.Response) -> ResolverError:
    """A final non-2xx answer as an error that names the fix, never the request's data."""
    status = response.status_code
    if status in (401, 403):
        return ResolverError(
            f"the order API refused our credentials ({status}) on {call.label}: check "
            "TIDINGS_ORDERS__TOKEN, and TIDINGS_ORDERS__AUTH_HEADER / __AUTH_SCHEME for how the "
            "API expects it (e.g. Authorization: Bearer <token>, or X-Api-Key: <token> with an "
            "empty scheme)"
        )
    if status in (404, 405):
        return ResolverError(
            f"the order API has no {call.label} at the configured path ({status}): check "
            "TIDINGS_ORDERS__BASE_URL and TIDINGS_ORDERS__PATHS"
        )
    if status >= 500:
        return ResolverError(
            f"the order API failed {call.label} with {status} (not retried: only timeouts, 429, "
            "502, 503 and 504 are); the retailer's API operators should look at it"
        )
    return ResolverError(
        f"the order API refused {call.label} with {status}; the request does not fit the API's "
        "contract: see 'Order APIs' in the README and TIDINGS_ORDERS__PATHS"
    )
