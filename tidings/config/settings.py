"""``Settings``: every knob, read from ``TIDINGS_*`` environment variables and ``.env``.

Nested sections use ``__`` in variable names, e.g. ``TIDINGS_LLM__BASE_URL``; lists such as
mailboxes are JSON, e.g. ``TIDINGS_MAILBOXES='[{"name": "kapas-support", ...}]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tidings.errors import ConfigError

BUNDLED_BRANDS_FILE = Path(__file__).resolve().parent.parent / "demo" / "brands.yaml"
DEV_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105 - the known placeholder prod refuses

# Values that are obviously not real secrets; prod mode refuses them.
_PLACEHOLDER_MARKERS = ("change-me", "changeme", "placeholder", "your-", "xxxx", "dummy", "secret")


def is_placeholder(value: str) -> bool:
    """True when a secret is empty or looks like a value copied from an example file."""
    lowered = value.strip().lower()
    return not lowered or any(marker in lowered for marker in _PLACEHOLDER_MARKERS)


class MailboxSettings(BaseModel):
    """One IMAP mailbox to poll, owned by one brand."""

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]*$", description="stable id, e.g. kapas-support"
    )
    brand: str
    host: str
    port: int = 993
    security: Literal["tls", "starttls", "none"] = "tls"
    username: str
    password: SecretStr
    folder: str = "INBOX"
    after_commit: Literal["flag", "move", "leave"] = "flag"
    move_to: str = "Tidings/Processed"


class LLMSettings(BaseModel):
    """An OpenAI-compatible endpoint; unset base URL and key means no LLM (local model only)."""

    base_url: str | None = None
    model: str = "gpt-4o-mini"
    api_key: SecretStr | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    daily_budget_usd: float = Field(default=5.0, ge=0)

    @property
    def enabled(self) -> bool:
        """Whether an LLM is configured at all."""
        return self.base_url is not None or self.api_key is not None


class TwilioSettings(BaseModel):
    """Twilio account for WhatsApp and SMS."""

    account_sid: str | None = None
    auth_token: SecretStr | None = None
    api_base_url: str | None = Field(default=None, description="override, for test servers")
    status_callback_url: str | None = None


class SendGridSettings(BaseModel):
    """SendGrid account for email."""

    api_key: SecretStr | None = None
    host: str | None = Field(default=None, description="override, for test servers")
    webhook_public_key: str | None = None


class SMTPSettings(BaseModel):
    """An SMTP relay for self-hosted email."""

    host: str | None = None
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = 30.0


class WebSettings(BaseModel):
    """The web app's listener and session signing key."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)


class Settings(BaseSettings):
    """All of Tidings' configuration. Build one per process and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix="TIDINGS_",
        env_file=".env",
        env_nested_delimiter="__",
        extra="ignore",
    )

    mode: Literal["dev", "prod"] = "dev"
    database_url: str = "sqlite:///tidings.db"
    brands_file: Path = BUNDLED_BRANDS_FILE
    outbox_dir: Path = Path("outbox")
    log_level: str = "INFO"
    log_json: bool = False
    kill_switch: bool = Field(default=False, description="turn every auto-action into escalation")
    mailboxes: list[MailboxSettings] = Field(default_factory=list)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    sendgrid: SendGridSettings = Field(default_factory=SendGridSettings)
    smtp: SMTPSettings = Field(default_factory=SMTPSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @model_validator(mode="after")
    def _refuse_placeholders_outside_dev(self) -> Settings:
        if self.mode == "dev":
            return self
        problems = [
            f"{name} is a placeholder or empty: set a real value in TIDINGS_{env}"
            for name, env, secret in self._configured_secrets()
            if is_placeholder(secret)
        ]
        if len(self.web.secret_key.get_secret_value()) < 32:
            problems.append(
                "web.secret_key must be at least 32 characters: TIDINGS_WEB__SECRET_KEY"
            )
        if problems:
            raise ConfigError("prod mode refuses these settings:\n  " + "\n  ".join(problems))
        return self

    def _configured_secrets(self) -> list[tuple[str, str, str]]:
        """(name, env var, value) of every secret whose service is configured."""
        found = [("web.secret_key", "WEB__SECRET_KEY", self.web.secret_key.get_secret_value())]
        if self.llm.api_key is not None:
            found.append(("llm.api_key", "LLM__API_KEY", self.llm.api_key.get_secret_value()))
        if self.twilio.account_sid:
            token = self.twilio.auth_token.get_secret_value() if self.twilio.auth_token else ""
            found.append(("twilio.auth_token", "TWILIO__AUTH_TOKEN", token))
        if self.sendgrid.api_key is not None:
            key = self.sendgrid.api_key.get_secret_value()
            found.append(("sendgrid.api_key", "SENDGRID__API_KEY", key))
        if self.smtp.username:
            password = self.smtp.password.get_secret_value() if self.smtp.password else ""
            found.append(("smtp.password", "SMTP__PASSWORD", password))
        for box in self.mailboxes:
            found.append(
                (f"mailbox {box.name} password", "MAILBOXES", box.password.get_secret_value())
            )
        return found
