"""One small error hierarchy. Messages name the fix; the CLI and web layers translate them."""


class TidingsError(Exception):
    """Base class of every error Tidings raises on purpose.

    ``transient`` tells a worker whether trying again later can help: a refused connection can
    heal, a malformed email cannot, so a permanent error dead-letters the row at once.
    """

    transient = False


class ConfigError(TidingsError):
    """Settings or the brands file are wrong; the message says which key and how to fix it."""


class StorageError(TidingsError):
    """The database is unreachable, not migrated, or refused a write."""

    transient = True


class OrderNotFoundError(TidingsError):
    """No order matches the id or contact that was asked for."""


class OrderStateError(TidingsError):
    """The order exists but its state does not allow the requested change."""


class InboxError(TidingsError):
    """A mailbox could not be read or an email could not be stored."""


class ClassificationError(TidingsError):
    """A classifier could not produce a classification."""


class ResolverError(TidingsError):
    """A resolver could not apply its action."""


class TemplateError(TidingsError):
    """A template is invalid or was refused by the sandbox."""


class ChannelError(TidingsError):
    """A channel could not deliver a message."""

    transient = True


class LeaseLostError(TidingsError):
    """A worker's lease on a row expired and another worker took it over."""

    transient = True
