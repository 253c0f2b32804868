"""Email through SendGrid's v3 Mail Send API with the official ``sendgrid`` SDK.

SendGrid's Mail Send takes no idempotency key: ``custom_args`` and headers ride along with the
message and its events but do not make a resend harmless. So this channel is not idempotent.
``custom_args`` carry the notification id, which every event webhook call echoes back.
"""

from __future__ import annotations

from typing import Any

import python_http_client
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Content, CustomArg, From, Header, Mail, Subject, To

from tidings.channels.base import OutboundMessage, SendResult
from tidings.channels.provider_errors import from_status, from_urllib, retry_after_seconds
from tidings.errors import ConfigError
from tidings.store.enums import ChannelKind

PROVIDER = "sendgrid"
NOTIFICATION_ARG = "tidings_notification_id"


class SendGridChannel:
    """Email through SendGrid."""

    name = PROVIDER
    kind = ChannelKind.EMAIL
    idempotent = False

    def __init__(
        self,
        *,
        api_key: str,
        host: str | None = None,
        timeout_seconds: float = 15.0,
        rate_per_second: float | None = 100.0,
    ) -> None:
        if not api_key:
            raise ConfigError("SendGrid needs TIDINGS_SENDGRID__API_KEY")
        self.client = SendGridAPIClient(api_key=api_key, host=host or "https://api.sendgrid.com")
        # Children of the SDK's client inherit this timeout; the SDK has no parameter for it.
        self.client.client.timeout = timeout_seconds
        self.rate_per_second = rate_per_second

    def send(self, message: OutboundMessage) -> SendResult:
        """POST /v3/mail/send; SendGrid's X-Message-Id header is the provider message id."""
        try:
            response = self.client.send(build_mail(message))
        except python_http_client.exceptions.HTTPError as exc:
            headers = exc.headers or {}
            raise from_status(
                PROVIDER,
                int(exc.status_code),
                _body_text(exc.body),
                retry_after=retry_after_seconds(headers.get("Retry-After")),
            ) from exc
        except OSError as exc:
            raise from_urllib(PROVIDER, exc) from exc
        message_id = (response.headers or {}).get("X-Message-Id")
        return SendResult(provider=PROVIDER, provider_message_id=message_id)

    def close(self) -> None:
        """Nothing to close: the SDK opens a connection per request."""


def build_mail(message: OutboundMessage) -> Mail:
    """The SDK's ``Mail`` for a message: text and HTML parts, unsubscribe headers, custom args."""
    mail = Mail(
        from_email=From(message.sender, message.sender_name),
        to_emails=To(message.recipient),
        subject=Subject(message.subject or ""),
    )
    mail.add_content(Content("text/plain", message.text))
    if message.html:
        mail.add_content(Content("text/html", message.html))
    # Per personalization: SendGrid's published contract types the top-level custom_args as a
    # string, the personalization's as an object; both reach the event webhook.
    mail.personalizations[0].add_custom_arg(
        CustomArg(NOTIFICATION_ARG, str(message.notification_id))
    )
    if message.unsubscribe_url:
        mail.add_header(Header("List-Unsubscribe", f"<{message.unsubscribe_url}>"))
        mail.add_header(Header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    return mail


def _body_text(body: Any) -> str:
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return str(body or "")
