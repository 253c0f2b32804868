"""The built-in providers, registered through the same hook an add-on uses."""

from __future__ import annotations

from tidings.channels.base import Channel
from tidings.channels.outbox_file import FileOutboxChannel
from tidings.channels.registry import ChannelContext, ChannelRegistry
from tidings.channels.sendgrid import SendGridChannel
from tidings.channels.smtp import SMTPChannel
from tidings.channels.twilio import RoutedTwilioHttpClient, TwilioChannel, twilio_client
from tidings.store.enums import ChannelKind


def _rate(context: ChannelContext, name: str, default: float | None) -> float | None:
    return context.rate_limits.get(name, default)


def twilio_factory(kind: ChannelKind, context: ChannelContext) -> Channel | None:
    """Twilio when an account is configured."""
    settings = context.settings.twilio
    if not settings.account_sid or settings.auth_token is None:
        return None
    http_client = context.twilio_http_client
    if http_client is None and settings.api_base_url:
        http_client = RoutedTwilioHttpClient({"*": settings.api_base_url})
    client = twilio_client(
        settings.account_sid, settings.auth_token.get_secret_value(), http_client=http_client
    )
    default = (
        settings.whatsapp_per_second if kind is ChannelKind.WHATSAPP else settings.sms_per_second
    )
    return TwilioChannel(
        kind=kind, client=client, rate_per_second=_rate(context, "twilio", default)
    )


def sendgrid_factory(kind: ChannelKind, context: ChannelContext) -> Channel | None:
    """SendGrid when an API key is configured."""
    settings = context.settings.sendgrid
    if settings.api_key is None:
        return None
    return SendGridChannel(
        api_key=settings.api_key.get_secret_value(),
        host=settings.host,
        rate_per_second=_rate(context, "sendgrid", settings.per_second),
    )


def smtp_factory(kind: ChannelKind, context: ChannelContext) -> Channel | None:
    """An SMTP relay when a host is configured."""
    settings = context.settings.smtp
    if not settings.host:
        return None
    return SMTPChannel(
        host=settings.host,
        port=settings.port,
        security=settings.security,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        timeout_seconds=settings.timeout_seconds,
        ssl_context=context.smtp_ssl_context,
        rate_per_second=_rate(context, "smtp", settings.per_second),
    )


def file_factory(kind: ChannelKind, context: ChannelContext) -> Channel | None:
    """The local file outbox: always available, tried last."""
    return FileOutboxChannel(kind=kind, directory=context.settings.outbox_dir)


def register(registry: ChannelRegistry) -> None:
    """Register Twilio, SendGrid, SMTP and the file outbox."""
    registry.register(
        "twilio", [ChannelKind.WHATSAPP, ChannelKind.SMS], twilio_factory, priority=10
    )
    registry.register("sendgrid", [ChannelKind.EMAIL], sendgrid_factory, priority=10)
    registry.register("smtp", [ChannelKind.EMAIL], smtp_factory, priority=20)
    all_kinds = list(ChannelKind)
    registry.register("file", all_kinds, file_factory, priority=1000)
