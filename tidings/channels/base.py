"""The ``Channel`` protocol every provider implements, and the message it sends.

A channel is one provider for one kind of channel (Twilio for WhatsApp, SendGrid for email...).
It sends one rendered message and either returns the provider's message id or raises a
``ChannelError`` that says whether trying again can help (``transient``) and whether the message
may already be out (``ChannelOutcomeUnknownError``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from tidings.store.enums import ChannelKind


class EmailAddress(BaseModel):
    """An address with an optional display name."""

    address: str
    name: str | None = None


class OutboundMessage(BaseModel):
    """Everything a provider needs to send one notification, rendered and addressed."""

    notification_id: int
    idempotency_key: str
    kind: ChannelKind
    brand: str = Field(description="brand slug, for file names and provider metadata")
    sender: str = Field(description="whatsapp:+E164, +E164 or an email address")
    sender_name: str | None = None
    recipient: str
    subject: str | None = None
    text: str
    html: str | None = None
    content_sid: str | None = Field(
        default=None, description="an approved WhatsApp template to send instead of free text"
    )
    content_variables: dict[str, str] = Field(default_factory=dict)
    message_id: str | None = Field(
        default=None, description="RFC 5322 Message-ID of an email, the same on every attempt"
    )
    unsubscribe_url: str | None = None
    status_callback: str | None = None


class SendResult(BaseModel):
    """What the provider said when it accepted the message."""

    provider: str
    provider_message_id: str | None = None


@runtime_checkable
class Channel(Protocol):
    """One provider for one kind of channel."""

    name: str
    """Provider name, stored with delivery events: ``twilio``, ``sendgrid``, ``smtp``, ``file``."""
    kind: ChannelKind
    idempotent: bool
    """True when sending the same message twice delivers it once (a key the receiving side
    dedupes on); only then may a send interrupted by a crash be repeated automatically."""
    rate_per_second: float | None
    """The provider's sending rate limit for this account, or None for no limit."""

    def send(self, message: OutboundMessage) -> SendResult:
        """Send one message; raise ``ChannelError`` (or a subclass) when it was not accepted."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
