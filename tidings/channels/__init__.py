"""Delivering messages: the ``Channel`` protocol, its providers, the outbox and its dispatcher.

- ``base``: ``Channel``, ``OutboundMessage``, ``SendResult``.
- ``registry`` / ``builtin``: which provider sends each kind (Twilio, SendGrid, SMTP, file).
- ``outbox``: ``enqueue`` in the caller's transaction, ``replay``, ``list_notifications``.
- ``dispatch``: the ``Dispatcher`` that sends, retries and dead-letters.
- ``policy``: consent, quiet hours, frequency caps, WhatsApp's 24-hour window, fallback.
- ``whatsapp``: the WhatsApp template registry and its sync with Twilio's Content API.
- ``status`` / ``webhooks``: delivery reports from providers, unsubscribe links, STOP replies.
"""

from tidings.channels.base import Channel, OutboundMessage, SendResult
from tidings.channels.outbox import enqueue, idempotency_key, replay

__all__ = ["Channel", "OutboundMessage", "SendResult", "enqueue", "idempotency_key", "replay"]
