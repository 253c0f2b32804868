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


class AccountError(TidingsError):
    """A web app user or API token cannot be added or changed as asked (a weak password, an
    unknown brand...)."""


class AccountNotFoundError(AccountError):
    """No such user or live token."""


class AccountConflictError(AccountError):
    """The change clashes with what is there: a name taken, the last active admin."""


class OrderNotFoundError(TidingsError):
    """No order matches the id or contact that was asked for."""


class OrderStateError(TidingsError):
    """The order exists but its state does not allow the requested change."""


class InboxError(TidingsError):
    """A mailbox could not be read or an email could not be stored."""


class MailboxUnavailableError(InboxError):
    """An IMAP server is unreachable or dropped the connection; the poller reconnects."""

    transient = True


class MailboxLoginError(InboxError):
    """An IMAP server refused a mailbox's credentials; polling that mailbox stops until fixed."""


class ClassificationError(TidingsError):
    """A classifier could not produce a classification."""


class ResolverError(TidingsError):
    """A resolver could not apply its action."""


class OrderAPIUnavailableError(ResolverError):
    """The retailer's order API did not answer (timeouts, refused connections, 429, 502-504)
    after our retries: the step is tried again later, and the idempotency key keeps a write that
    did land from landing twice."""

    transient = True


class TemplateError(TidingsError):
    """A template is invalid or was refused by the sandbox."""


class TemplateRenderError(TemplateError):
    """The sandbox refused or failed one render; ``line`` is the template line when known and
    ``name`` the undefined variable when that was the cause."""

    def __init__(self, message: str, *, line: int | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.name = name


class TemplateNotFoundError(TemplateError):
    """No such brand, template slot or version."""


class TemplateConflictError(TemplateError):
    """The change clashes with the slot as it is now: a version saved by someone else since the
    edit began, or an archived version asked to be published."""


class TemplateValidationError(TemplateError):
    """A template failed validation on save; ``issues`` lists each problem with its line and fix."""

    def __init__(self, message: str, issues: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.issues = issues


class ChannelError(TidingsError):
    """A channel could not deliver a message."""

    transient = True


class WebhookSignatureError(TidingsError):
    """A provider webhook whose signature is missing or does not verify (or whose provider is
    not configured): nothing in it is trusted or stored."""


class WebhookPayloadError(TidingsError):
    """A signed webhook body that is not what the provider sends (wrong types, values longer
    than Tidings stores, ids no row can have)."""


class ChannelRejectedError(ChannelError):
    """The provider refused the message as invalid (a 4xx contract error): resending the same
    request cannot help; fix the message, the recipient or the credentials, then replay."""

    transient = False


class ChannelThrottledError(ChannelError):
    """The provider asked us to slow down (429); ``retry_after`` is its hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChannelOutcomeUnknownError(ChannelError):
    """The request may have reached the provider (a timeout or a dropped connection after it was
    sent): the message may be out, so a channel without an idempotency key must not resend it."""


class LeaseLostError(TidingsError):
    """A worker's lease on a row expired and another worker took it over."""

    transient = True
