"""Brands: who the retailer's shops are, how they speak, and what Tidings may do for them.

Brands live in a YAML or TOML file (``Settings.brands_file``); ``load_brands`` validates it and
names the broken key when it is wrong.
"""

from __future__ import annotations

import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    Field,
    PositiveFloat,
    ValidationError,
    field_validator,
    model_validator,
)

from tidings.errors import ConfigError
from tidings.patterns import compile_checked

LanguageCode = str  # ISO 639-1, e.g. "en", "hi", "id", "ms"
_LANGUAGE = r"^[a-z]{2}$"


class EmailSender(BaseModel):
    """The From identity of a brand's email."""

    address: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    name: str


class SenderIdentities(BaseModel):
    """Who a brand's messages come from, per channel."""

    email: EmailSender
    whatsapp: str | None = Field(default=None, pattern=r"^whatsapp:\+[1-9]\d{6,14}$")
    sms: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$")


class Voice(BaseModel):
    """How a brand sounds; templates and drafted replies follow it."""

    tone: str = Field(description="a few words a writer can follow, e.g. 'warm, playful'")
    formality: Literal["casual", "neutral", "formal"] = "neutral"
    sign_off: str
    emoji: Literal["none", "light", "rich"] = "none"


class QuietHours(BaseModel):
    """No proactive message between start and end, in the customer's time zone."""

    start: time = time(21, 0)
    end: time = time(9, 0)


ProblemName = Literal[
    "delay", "failed_attempt", "customs_hold", "exception", "address_issue", "backorder"
]
ChannelName = Literal["whatsapp", "sms", "email"]
CloseName = Literal["delivered", "back_on_track"]
EVERY_PROBLEM: tuple[ProblemName, ...] = get_args(ProblemName)


class Outreach(BaseModel):
    """Proactive WISMO: which problems the brand tells customers about, on which channels, how
    often while a problem drags on, and whether it says when the problem is over. Quiet hours
    and the weekly cap (``Policies``) apply to every proactive message."""

    enabled: bool = True
    notify: list[ProblemName] = Field(
        default_factory=lambda: list(EVERY_PROBLEM),
        description="problems that get a proactive notice",
    )
    channels: list[ChannelName] = Field(
        default_factory=list,
        description="channel order and fallback for proactive notices, e.g. [whatsapp, sms, "
        "email]; empty: the customer's own order. A channel the customer has not opted in to, "
        "or a WhatsApp template that is not approved, falls through to the next",
    )
    follow_up_days: list[float] = Field(
        default_factory=lambda: [2.0, 5.0],
        description="days after a problem opened when the customer hears again if it lasts",
    )
    close_notice: list[CloseName] = Field(
        default_factory=lambda: list[CloseName](get_args(CloseName)),
        description="tell the customer a problem they heard about is over",
    )

    @field_validator("follow_up_days")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(day <= 0 for day in value) or value != sorted(set(value)):
            raise ValueError(f"follow_up_days must be positive and increasing, got {value}")
        return value


class Policies(BaseModel):
    """What Tidings may do on its own for this brand."""

    auto_resolve: list[str] = Field(
        default_factory=lambda: [
            *("wismo", "address_change", "delivery_reschedule"),
            *("address_undeliverable", "failed_delivery_attempt", "carrier_delay"),
            *("customs_hold", "backorder_stockout", "partial_shipment"),
        ],
        description="categories that may be resolved without a human",
    )
    cancellation_window_hours: int = Field(default=24, ge=0)
    reschedule_window_days: int = Field(default=7, ge=0)
    proactive_per_week: int = Field(
        default=3, ge=0, description="frequency cap for proactive messages"
    )
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    auto_actions_per_hour: int = Field(
        default=300, ge=0, description="auto-actions beyond this in an hour go to review instead"
    )
    delivery_days: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4, 5],
        description="weekdays deliveries happen on (0 = Monday); reschedules pick these",
    )
    sla_hours: dict[str, PositiveFloat] = Field(
        default_factory=dict,
        description="hours a person has to decide an escalated case of a category for this "
        "brand; overrides TIDINGS_AGENT__SLA_HOURS and the defaults",
    )
    outreach: Outreach = Field(default_factory=Outreach)


class Brand(BaseModel):
    """One brand (shop) served by this Tidings deployment."""

    slug: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")
    name: str
    default_language: LanguageCode = Field(pattern=_LANGUAGE)
    languages: list[LanguageCode]
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    order_id_patterns: list[str] = Field(
        default_factory=list, description="regexes that find this brand's order ids in text"
    )
    senders: SenderIdentities
    voice: Voice
    policies: Policies = Field(default_factory=Policies)
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="per-category minimum confidence for auto-actions"
    )
    help_url: str | None = Field(
        default=None, description="where customers get help; the support email when unset"
    )

    @field_validator("languages")
    @classmethod
    def _languages_are_codes(cls, value: list[str]) -> list[str]:
        bad = [code for code in value if not re.match(_LANGUAGE, code)]
        if bad or not value:
            raise ValueError(f"languages must be ISO 639-1 codes like 'en', got {value!r}")
        return value

    @field_validator("order_id_patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                compile_checked(pattern)
            except ConfigError as exc:  # pydantic reports ValueErrors with the key's location
                raise ValueError(str(exc)) from None
        return value

    @field_validator("thresholds")
    @classmethod
    def _thresholds_are_probabilities(cls, value: dict[str, float]) -> dict[str, float]:
        for category, threshold in value.items():
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"threshold for {category} must be within 0..1, got {threshold}")
        return value

    @model_validator(mode="after")
    def _default_language_is_offered(self) -> Brand:
        if self.default_language not in self.languages:
            raise ValueError(
                f"default_language {self.default_language!r} must be one of {self.languages}"
            )
        return self


class BrandsFile(BaseModel):
    """The whole brands file."""

    brands: list[Brand] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_slugs(self) -> BrandsFile:
        slugs = [brand.slug for brand in self.brands]
        duplicated = sorted({slug for slug in slugs if slugs.count(slug) > 1})
        if duplicated:
            raise ValueError(f"brand slugs must be unique; repeated: {duplicated}")
        return self

    def get(self, slug: str) -> Brand:
        """Return the brand with this slug, or raise ``ConfigError`` naming the known ones."""
        for brand in self.brands:
            if brand.slug == slug:
                return brand
        known = ", ".join(b.slug for b in self.brands)
        raise ConfigError(f"unknown brand {slug!r}; the brands file defines: {known}")


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        return tomllib.loads(text)
    return yaml.safe_load(text)


def load_brands(path: Path) -> BrandsFile:
    """Read and validate a brands file (.yaml, .yml or .toml)."""
    if not path.is_file():
        raise ConfigError(
            f"brands file {path} not found: set TIDINGS_BRANDS_FILE to a YAML/TOML file"
        )
    try:
        raw = _read(path)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"brands file {path} is not valid YAML/TOML: {exc}") from exc
    try:
        return BrandsFile.model_validate(raw)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigError(f"brands file {path} is invalid:\n" + "\n".join(lines)) from exc
