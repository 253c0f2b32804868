"""structlog set-up: JSON lines in production, readable console output in dev.

Secrets and customer data never reach the logs, from any logger: ``configure_logging`` puts a
filter on the root handlers that masks every record (``tidings.redact``), structlog events go
through the same masking (values, and any value whose key looks secret), and the SDK loggers that
dump whole requests stay at WARNING unless asked for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

import structlog

from tidings.redact import MASK, redact

_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|api_?key|auth|credential)", re.IGNORECASE)

# SDKs and HTTP transports log whole requests at DEBUG or INFO: headers with API keys, customers'
# numbers and addresses, message bodies (SendGrid's client prints the Authorization header and the
# payload). They stay at WARNING whatever TIDINGS_LOG_LEVEL says; TIDINGS_LOG_SDK=true lets them
# log at the chosen level, still redacted, for debugging a provider.
SDK_LOGGERS = (
    "python_http_client",
    "sendgrid",
    "twilio",
    "twilio.http_client",  # every request URL, phone numbers included
    "urllib3",
    "requests",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "hpack",
    "h2",
    "openai",
    "aiohttp",
    "imapclient",  # FETCH responses are whole emails
    "python_multipart",
)


class RedactingFilter(logging.Filter):
    """Masks secrets and customer data in each record a handler emits, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message, arguments and traceback by their redacted text."""
        if getattr(record, "tidings_redacted", False):
            return True  # another root handler already masked this record
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: keep the text
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record.__dict__["tidings_redacted"] = True
        return True


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool | int | float | None):
        return value
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_redact_value(item) for item in value]
    return redact(repr(value))


# Identifiers an operator needs to find the row behind a log line; they look like email
# addresses to the PII patterns (<id@host>) but name an email, not a person.
_IDENTIFIERS = frozenset({"message_id"})


def _mask_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key != "event" and _SECRET_KEY.search(key):
            event_dict[key] = MASK
        elif key not in _IDENTIFIERS:
            event_dict[key] = _redact_value(event_dict[key])
    return event_dict


def configure_logging(*, level: str = "INFO", json: bool = False, sdk: bool = False) -> None:
    """Configure structlog and the standard library's root logger once, at process start;
    ``sdk`` lets the SDK loggers (``SDK_LOGGERS``) log below WARNING."""
    numeric = logging.getLevelName(level.upper())
    logging.basicConfig(format="%(message)s", level=numeric)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    quiet = max(logging.WARNING, numeric)
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(numeric if sdk else quiet)
    # Alembic narrates every migration at INFO; that is noise in a CLI's output.
    logging.getLogger("alembic").setLevel(quiet)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        # Plain tracebacks: format_exc_info turns them into text that _mask_secrets can redact.
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _mask_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Return a named structlog logger."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
