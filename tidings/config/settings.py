"""``Settings``: every knob, read from ``TIDINGS_*`` environment variables and ``.env``.

Nested sections use ``__`` in variable names, e.g. ``TIDINGS_LLM__BASE_URL``; lists such as
mailboxes are JSON, e.g. ``TIDINGS_MAILBOXES='[{"name": "kapas-support", ...}]'``.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    PositiveFloat,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tidings.errors import ConfigError

BUNDLED_BRANDS_FILE = Path(__file__).resolve().parent.parent / "demo" / "brands.yaml"
BUNDLED_TAXONOMY_FILE = Path(__file__).resolve().parent.parent / "classifiers" / "taxonomy.yaml"
DEV_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105 - the known placeholder prod refuses

# Values that are obviously not real secrets; prod mode refuses them.
_PLACEHOLDER_MARKERS = ("change-me", "changeme", "placeholder", "your-", "xxxx", "dummy", "secret")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DATABASE_BACKENDS = ("sqlite", "postgresql", "postgres")


def is_placeholder(value: str) -> bool:
    """True when a secret is empty or looks like a value copied from an example file."""
    lowered = value.strip().lower()
    return not lowered or any(marker in lowered for marker in _PLACEHOLDER_MARKERS)


def _http_url(value: str) -> str:
    """Refuse anything but an absolute http(s) URL; the message names the shape, not the value
    (a mistyped URL may carry a key)."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
        raise ValueError("must be an http:// or https:// URL with a host, e.g. https://host/v1")
    return value


HttpURL = Annotated[str, AfterValidator(_http_url)]


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


class InboxSettings(BaseModel):
    """How mailboxes are polled and how emails are read (``TIDINGS_INBOX__*``).

    Domain lists accept full domains (``delhivery.com``, matching subdomains too) or bare names
    (``delhivery``), which match any label of the sender's domain or words of its display name.
    """

    idle: bool = Field(default=True, description="use IMAP IDLE when the server offers it")
    poll_interval_seconds: float = Field(default=60.0, gt=0, description="without IDLE")
    idle_refresh_seconds: float = Field(default=300.0, gt=0, le=1740, description="re-issue IDLE")
    fetch_batch: int = Field(default=100, ge=1, le=1000, description="messages per commit")
    max_email_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    first_sync_days: int = Field(
        default=14, ge=0, description="a new mailbox starts with mail that arrived this recently"
    )
    timeout_seconds: float = Field(default=60.0, gt=0, description="IMAP connect and read")
    reconnect_initial_seconds: float = Field(default=1.0, gt=0)
    reconnect_max_seconds: float = Field(default=300.0, gt=0)
    tls_ca_file: Path | None = Field(
        default=None, description="extra CA bundle to trust, e.g. a self-signed IMAP server's"
    )
    carrier_domains: list[str] = Field(
        default_factory=lambda: [
            *("delhivery", "bluedart", "xpressbees", "ecomexpress", "dtdc", "shadowfax"),
            *("ekart", "ekartlogistics", "indiapost", "shiprocket", "gati", "trackon", "smartr"),
            *("jne", "jne-express", "jnt", "jtexpress", "jet", "sicepat", "anteraja", "tiki"),
            *("posindonesia", "lionparcel", "wahana", "ninjavan", "ninjaxpress", "pos"),
            *("poslaju", "posmalaysia", "citylink", "citylinkexpress", "gdex", "gdexpress"),
            *("skynet", "lalamove", "sapexpress", "dhl", "dhlecommerce", "fedex", "ups"),
            *("aramex", "usps", "amazonshipping"),
        ]
    )
    supplier_domains: list[str] = Field(default_factory=list)
    customer_domains: list[str] = Field(
        default_factory=lambda: [
            *("gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com"),
            *("msn.com", "icloud.com", "me.com", "proton.me", "protonmail.com", "aol.com"),
            *("yahoo", "ymail.com", "rocketmail.com", "rediffmail.com", "zoho.com"),
            *("outlook.in", "outlook.co.id", "hotmail.my", "hotmail.co.id", "gmx.com"),
        ],
        description="free-mail providers: a person writes from these, never a company system",
    )
    tracking_patterns: list[str] = Field(
        default_factory=lambda: [
            # After a word or carrier name that introduces a tracking number; group 1 is the
            # number. ASCII mode ((?a)) keeps this, the costliest pattern, fast.
            r"(?a)(?i:(?=[abcdegijklnprstuwx])\b(?:awb|waybill|way\s?bill|tracking|track|resi"
            r"|consignment|cn|lr|stt|docket|parcel|shipment|kiriman|paket|bungkusan|penjejakan"
            r"|pengesanan|delhivery|blue\s?dart|xpressbees|ecom\s?express|dtdc|shadowfax|ekart"
            r"|india\s?post|sicepat|jne|j&t(?:\s?express)?|anteraja|ninja\s?(?:van|xpress)"
            r"|pos\s?laju|gdex|city-?link|dhl|fedex|ups|aramex)"
            r"(?:\s*(?:no|nr|number|nomor|nombor|id|code|kode|#)\b\.?)?)"
            r"\s*[:#.\-]?\s*([A-Z]{0,5}\d[A-Z0-9]{7,24})\b",
            r"(?:ट्रैकिंग|एडब्ल्यूबी|ट्रैक)\s*(?:नंबर|संख्या|नं\.?|no\.?|#)?\s*[:#.\-]?\s*"
            r"([A-Z]{0,5}\d[A-Z0-9]{7,24})\b",
            # Formats that need no keyword, in one pass: UPS, UPU S10 (postal services),
            # Ninja Van, J&T, Shadowfax.
            r"\b(?:1Z[0-9A-Z]{16}|[A-Z]{2}\d{9}[A-Z]{2}|NV[A-Z]{2}[A-Z0-9]{0,6}\d{8,14}"
            r"|(?:JT|JP|JX|JD)\d{10,14}|SF\d{9}[A-Z]{3})\b",
        ]
    )


class LLMSettings(BaseModel):
    """An OpenAI-compatible endpoint; unset base URL and key means no LLM (local model only)."""

    base_url: HttpURL | None = None
    model: str = "gpt-4o-mini"
    api_key: SecretStr | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    daily_budget_usd: float = Field(default=5.0, ge=0)
    max_seconds_per_email: float = Field(
        default=45.0,
        gt=0,
        description="all attempts for one email together; well inside a worker's lease",
    )
    breaker_failures: int = Field(
        default=3, ge=1, description="transient failures in a row that open the circuit breaker"
    )
    breaker_cool_down_seconds: float = Field(
        default=30.0, gt=0, description="how long an open breaker refuses calls before a trial"
    )

    @property
    def enabled(self) -> bool:
        """Whether an LLM is configured at all."""
        return self.base_url is not None or self.api_key is not None


class TwilioSettings(BaseModel):
    """Twilio account for WhatsApp and SMS."""

    account_sid: str | None = None
    auth_token: SecretStr | None = None
    api_base_url: HttpURL | None = Field(default=None, description="override, for test servers")
    status_callback_url: HttpURL | None = None
    # Twilio queues what exceeds a sender's rate, and a long queue delays every later message:
    # the dispatcher stays under these instead (WhatsApp ~80/s per sender; SMS per number type).
    whatsapp_per_second: float = Field(default=80.0, gt=0)
    sms_per_second: float = Field(default=10.0, gt=0)


class SendGridSettings(BaseModel):
    """SendGrid account for email."""

    api_key: SecretStr | None = None
    host: HttpURL | None = Field(default=None, description="override, for test servers")
    webhook_public_key: str | None = None
    webhook_tolerance_seconds: float = Field(
        default=300.0,
        gt=0,
        description="refuse event batches signed further than this from now: replays",
    )
    per_second: float = Field(default=100.0, gt=0)


class SMTPSettings(BaseModel):
    """An SMTP relay for self-hosted email."""

    host: str | None = None
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = 30.0
    per_second: float | None = Field(default=None, gt=0, description="unlimited when unset")


class OrderAPISettings(BaseModel):
    """Where orders live (``TIDINGS_ORDERS__*``): the built-in store, or a retailer's REST API."""

    kind: Literal["builtin", "rest"] = "builtin"
    base_url: HttpURL | None = Field(default=None, description="the REST API's root URL")
    auth_header: str = Field(default="Authorization", description="header carrying the token")
    auth_scheme: str = Field(default="Bearer", description="prefix of the token; empty for none")
    token: SecretStr | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10, description="on timeouts, 429 and 5xx only")
    paths: dict[str, str] = Field(
        default_factory=dict,
        description='endpoint path overrides, e.g. {"get_order": "/v2/orders/{number}"}',
    )

    @model_validator(mode="after")
    def _rest_needs_a_url(self) -> OrderAPISettings:
        if self.kind == "rest" and not self.base_url:
            raise ValueError(
                "kind rest needs the API's root URL: set TIDINGS_ORDERS__BASE_URL, "
                "e.g. https://orders.example.com/api"
            )
        return self


class AgentSettings(BaseModel):
    """How the agent decides and keeps its memory (``TIDINGS_AGENT__*``)."""

    durability: Literal["exit", "async", "sync"] = Field(
        default="exit",
        description="when the graph checkpoints: at the review interrupt and the end (exit), "
        "or after every node; every effect is idempotent, so exit loses nothing",
    )
    archive_min_confidence: float = Field(
        default=0.97,
        ge=0,
        le=1,
        description="a customer's email is archived as 'other' only this sure; else reviewed",
    )
    archive_min_confidence_others: float = Field(
        default=0.75,
        ge=0,
        le=1,
        description="a carrier's, supplier's or unknown sender's mail: archived only this sure",
    )
    checkpoint_retention_days: float = Field(
        default=7.0, ge=0, description="checkpoints of cases closed this long ago are pruned"
    )
    reschedule_slots_offered: int = Field(default=3, ge=1, le=7)
    sla_hours: dict[str, PositiveFloat] = Field(
        default_factory=dict,
        description="hours a person has to decide an escalated case, per category, counted from "
        "the email's arrival; merged over the built-in defaults (tidings.agent.sla), and a "
        "brand's policies.sla_hours override both",
    )
    review_priority: dict[str, Annotated[int, Field(ge=1, le=9)]] = Field(
        default_factory=dict,
        description="per category, 1 (first) to 9: breaks ties between cases due at the same "
        "time; merged over the built-in defaults",
    )


class WorkerSettings(BaseModel):
    """How pipeline workers hold their rows (``TIDINGS_WORKER__*``)."""

    lease_seconds: float = Field(
        default=15.0,
        gt=0,
        description="a crashed worker's rows come back after this long; live workers renew",
    )
    heartbeat_seconds: float | None = Field(
        default=None, gt=0, description="how often leases in hand are renewed (a third of a lease)"
    )


def _zone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone, e.g. Asia/Kolkata") from None
    return value


ZoneName = Annotated[str, AfterValidator(_zone_name)]


class CarrierHours(BaseModel):
    """When a carrier scans parcels: a parcel is stalled after ``stale_after_hours`` of these
    hours without a scan. Unset fields take the defaults of ``WismoSettings``."""

    stale_after_hours: float | None = Field(default=None, gt=0)
    days: list[int] | None = Field(default=None, description="working weekdays, 0 = Monday")
    start: time | None = None
    end: time | None = None
    time_zone: ZoneName | None = None


class WismoSettings(BaseModel):
    """Proactive WISMO (``TIDINGS_WISMO__*``): aggregator webhooks and the delay scan."""

    aftership_secret: SecretStr | None = Field(
        default=None, description="AfterShip's webhook secret (aftership-hmac-sha256)"
    )
    easypost_secret: SecretStr | None = Field(
        default=None, description="the webhook_secret given to EasyPost (X-Hmac-Signature)"
    )
    scan_every_seconds: float = Field(
        default=300.0, gt=0, description="how often a worker runs the scan (one at a time)"
    )
    stale_after_hours: float = Field(
        default=48.0, gt=0, description="business hours without a carrier scan: stalled"
    )
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4, 5])
    start: time = time(9, 0)
    end: time = time(18, 0)
    time_zone: ZoneName = "Asia/Kolkata"
    carriers: dict[str, CarrierHours] = Field(
        default_factory=dict,
        description='per carrier code, e.g. {"jne": {"stale_after_hours": 24, '
        '"time_zone": "Asia/Jakarta"}}',
    )

    @model_validator(mode="after")
    def _hours_make_sense(self) -> WismoSettings:
        for name, rule in [("default", None), *self.carriers.items()]:
            days = (rule.days if rule and rule.days is not None else None) or self.days
            start = (rule.start if rule else None) or self.start
            end = (rule.end if rule else None) or self.end
            if not days or any(not 0 <= d <= 6 for d in days) or start >= end:
                raise ValueError(
                    f"{name}: working days must be 0-6 (Monday = 0) and start before end"
                )
        return self


class WebSettings(BaseModel):
    """The web app (``TIDINGS_WEB__*``): listener, signing key, request and login limits."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest request body accepted (413 beyond it); webhooks are a few KB",
    )
    public_url: HttpURL | None = Field(
        default=None,
        description="where customers and providers reach `tidings serve` (behind a proxy): "
        "unsubscribe links, Twilio status callbacks and webhook signature checks use it",
    )
    session_hours: float = Field(
        default=12.0, gt=0, description="a login lasts at most this long, however active"
    )
    session_idle_minutes: float = Field(
        default=120.0, gt=0, description="a login ends after this long without a request"
    )
    login_failures_per_name: int = Field(
        default=5, ge=1, description="failed logins per user name within the window, then 429"
    )
    login_failures_per_ip: int = Field(
        default=20, ge=1, description="failed logins per client address within the window"
    )
    login_window_minutes: float = Field(
        default=15.0, gt=0, description="how far back failed logins count"
    )
    dashboard_refresh_seconds: int = Field(
        default=10, ge=2, le=3600, description="how often the dashboard refreshes itself"
    )


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
    taxonomy_file: Path = Field(
        default=BUNDLED_TAXONOMY_FILE,
        description="categories with descriptions and examples; a new one needs `tidings train`",
    )
    outbox_dir: Path = Path("outbox")
    log_level: str = Field(default="INFO", description=", ".join(LOG_LEVELS))
    log_json: bool = False
    log_sdk: bool = Field(
        default=False,
        description="let the SDKs' own loggers (SendGrid, Twilio, OpenAI, urllib3, httpx) log "
        "below WARNING; what they print is still redacted",
    )
    kill_switch: bool = Field(default=False, description="turn every auto-action into escalation")
    mailboxes: list[MailboxSettings] = Field(default_factory=list)
    inbox: InboxSettings = Field(default_factory=InboxSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    sendgrid: SendGridSettings = Field(default_factory=SendGridSettings)
    smtp: SMTPSettings = Field(default_factory=SMTPSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    orders: OrderAPISettings = Field(default_factory=OrderAPISettings)
    wismo: WismoSettings = Field(default_factory=WismoSettings)

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        level = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level)  # logging's aliases
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("database_url")
    @classmethod
    def _database_url_parses(cls, value: str) -> str:
        # Checked here so a typo is one line naming the variable, not a SQLAlchemy traceback;
        # the message never repeats the URL (it may hold a password).
        example = "e.g. sqlite:///tidings.db or postgresql://user:password@host/tidings"
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError(f"is not a database URL: {example}") from None
        if backend not in DATABASE_BACKENDS:
            raise ValueError(f"must be a SQLite or PostgreSQL URL, {example}")
        return value

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
        for provider in ("aftership", "easypost"):
            secret: SecretStr | None = getattr(self.wismo, f"{provider}_secret")
            if secret is not None:
                env = f"WISMO__{provider.upper()}_SECRET"
                found.append((f"wismo.{provider}_secret", env, secret.get_secret_value()))
        if self.orders.kind == "rest":
            token = self.orders.token.get_secret_value() if self.orders.token else ""
            found.append(("orders.token", "ORDERS__TOKEN", token))
        for box in self.mailboxes:
            found.append(
                (f"mailbox {box.name} password", "MAILBOXES", box.password.get_secret_value())
            )
        return found
