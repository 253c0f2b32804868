"""Twilio WhatsApp and SMS through the official ``twilio`` SDK.

A WhatsApp message is free text inside the customer's 24-hour window, or an approved template
(``ContentSid`` + ``ContentVariables``) outside it; the dispatcher decides which. Twilio's Messages
API takes no idempotency key (its OpenAPI contract has none for ``POST .../Messages.json``), so
this channel is not idempotent: a send interrupted by a crash is reported, never repeated.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from tidings.channels.base import OutboundMessage, SendResult
from tidings.channels.provider_errors import twilio_call
from tidings.channels.reconcile import Lookup
from tidings.config.settings import TwilioSettings
from tidings.errors import ChannelRejectedError, ConfigError
from tidings.store.enums import ChannelKind

PROVIDER = "twilio"
# Requests go to these hosts; a routing client can point each at another base URL.
TWILIO_HOSTS = ("api.twilio.com", "content.twilio.com")
LOOKUP_LIMIT = 20  # newest messages to one recipient examined when settling a possibly-sent row


class RoutedTwilioHttpClient(TwilioHttpClient):  # type: ignore[misc]  # the SDK is untyped
    """A ``TwilioHttpClient`` that sends ``*.twilio.com`` requests to other base URLs.

    ``routes`` maps a Twilio host to a base URL (``{"api.twilio.com": "http://127.0.0.1:4010"}``);
    the key ``"*"`` catches every other Twilio host. Used for test servers and regional proxies.
    """

    def __init__(
        self, routes: dict[str, str], *, timeout: float | tuple[float, float] = (5.0, 15.0)
    ) -> None:
        super().__init__()
        # (connect, read): requests tells a refused connection from a slow answer this way; the
        # SDK's constructor only accepts one number, its request() passes any value through.
        self.timeout = timeout
        self.routes = routes
        # The SDK mounts a sized pool for https only; mock servers speak plain http.
        self.session.mount("http://", HTTPAdapter(pool_maxsize=32))
        self._pin_environment()

    def _pin_environment(self) -> None:
        """Read proxy and CA settings from the environment once, not on every request.

        requests scans the whole environment per request (a quarter of a millisecond, a tenth
        of a send's CPU). When every host this client calls gets the same proxies, they are
        pinned and the scan is turned off; otherwise requests keeps doing it per URL."""
        targets = {self.route(f"https://{host}/") for host in TWILIO_HOSTS}
        targets |= set(self.routes.values())
        found = [get_environ_proxies(target) for target in sorted(targets)]
        if any(proxies != found[0] for proxies in found):
            return
        self.proxy = found[0]
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self.session.verify = bundle
        self.session.trust_env = False

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        """Rewrite the URL's scheme and host, then send as the SDK would."""
        return super().request(method, self.route(url), *args, **kwargs)

    def route(self, url: str) -> str:
        """The URL this client really calls for a Twilio URL."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not host.endswith("twilio.com"):
            return url
        base = self.routes.get(host) or self.routes.get("*")
        if base is None:
            return url
        target = urlsplit(base)
        path = target.path.rstrip("/") + parts.path
        return urlunsplit((target.scheme, target.netloc, path, parts.query, parts.fragment))


def twilio_client(
    account_sid: str, auth_token: str, *, http_client: TwilioHttpClient | None = None
) -> Client:
    """A Twilio REST client; ``http_client`` routes or instruments its requests."""
    if not account_sid or not auth_token:
        raise ConfigError("Twilio needs TIDINGS_TWILIO__ACCOUNT_SID and TIDINGS_TWILIO__AUTH_TOKEN")
    if http_client is None:
        http_client = RoutedTwilioHttpClient({})  # no routes: Twilio's own hosts
    return Client(account_sid, auth_token, http_client=http_client)


class TwilioChannel:
    """WhatsApp or SMS through Twilio's Messages API."""

    name = PROVIDER
    idempotent = False
    kind: ChannelKind
    rate_per_second: float | None

    def __init__(
        self, *, kind: ChannelKind, client: Client, rate_per_second: float | None = None
    ) -> None:
        if kind not in (ChannelKind.WHATSAPP, ChannelKind.SMS):
            raise ConfigError(f"Twilio sends WhatsApp and SMS, not {kind.value}")
        self.kind = kind
        self.client = client
        # The settings' defaults (Twilio's: about 80/s for a WhatsApp sender; SMS by number).
        fields = TwilioSettings.model_fields
        whatsapp = kind is ChannelKind.WHATSAPP
        default = fields["whatsapp_per_second" if whatsapp else "sms_per_second"].default
        self.rate_per_second = rate_per_second if rate_per_second is not None else default

    def send(self, message: OutboundMessage) -> SendResult:
        """Create a Message resource; its SID is the provider message id."""
        params = self._params(message)
        created = twilio_call(lambda: self.client.messages.create(**params))
        return SendResult(provider=PROVIDER, provider_message_id=str(created.sid))

    def find_sent(self, message: OutboundMessage, *, since: datetime) -> Lookup:
        """The newest messages Twilio holds to ``message``'s recipient from its sender, created
        since ``since``: which have our text (their SIDs) and how many do not."""
        listed = twilio_call(
            lambda: self.client.messages.list(
                to=message.recipient, from_=message.sender, limit=LOOKUP_LIMIT
            )
        )
        recent = [m for m in listed if m.date_created is None or m.date_created >= since]
        matches = [str(m.sid) for m in recent if _same_text(m.body, message.text)]
        return Lookup(
            matches=matches,
            others=len(recent) - len(matches),
            # A full page may have cut older messages of the window off.
            complete=len(listed) < LOOKUP_LIMIT,
        )

    def _params(self, message: OutboundMessage) -> dict[str, Any]:
        params: dict[str, Any] = {"to": message.recipient, "from_": message.sender}
        if message.content_sid:
            if self.kind is not ChannelKind.WHATSAPP:
                raise ChannelRejectedError("content templates are for WhatsApp only")
            params["content_sid"] = message.content_sid
            params["content_variables"] = json.dumps(message.content_variables)
        else:
            params["body"] = message.text
        if message.status_callback:
            params["status_callback"] = message.status_callback
        return params

    def close(self) -> None:
        """Close the HTTP session's pooled connections."""
        session = getattr(self.client.http_client, "session", None)
        if session is not None:
            session.close()


def _same_text(sent: str | None, ours: str) -> bool:
    return " ".join((sent or "").split()) == " ".join(ours.split())
