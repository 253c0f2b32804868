"""The LLM classifier: any OpenAI-compatible endpoint, answers parsed into the pydantic schema.

Structured output first (JSON-schema response format); servers that refuse it get JSON mode, then
a plain prompt whose JSON is cut out of the reply. 429, 5xx, timeouts and dropped connections are
retried with backoff; refusals, malformed answers and an exhausted daily budget are not. Every
failure becomes a ``ClassificationError`` inside and an escalation outside: nothing here stops
the pipeline.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

import openai
from pydantic import BaseModel, Field, ValidationError, field_validator
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from tidings.classifiers.base import register
from tidings.classifiers.breaker import CircuitBreaker
from tidings.classifiers.budget import DailyBudget, Pricing
from tidings.classifiers.prompt import build_messages, response_schema
from tidings.classifiers.taxonomy import OTHER, Taxonomy, load_taxonomy
from tidings.classifiers.types import (
    Classification,
    ClassifyContext,
    EmailInput,
    ExtractedFields,
    Usage,
)
from tidings.config.settings import LLMSettings, Settings
from tidings.domain import Address
from tidings.errors import ClassificationError, ConfigError
from tidings.logs import get_logger

log = get_logger(__name__)
TRANSIENT = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APITimeoutError,
    openai.APIConnectionError,
)
Mode = Literal["json_schema", "json_object", "plain"]


class BudgetSpentError(ClassificationError):
    """The email's LLM time budget ran out before another attempt could start."""


MODES: tuple[Mode, ...] = ("json_schema", "json_object", "plain")


class LLMAddress(BaseModel):
    """An address as the LLM returns it."""

    lines: list[str] = Field(default_factory=list)
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None


class LLMFields(BaseModel):
    """Extracted fields as the LLM returns them."""

    order_id: str | None = None
    tracking_number: str | None = None
    new_address: LLMAddress | None = None
    requested_date: str | None = None
    requested_slot: str | None = None
    items: list[str] = Field(default_factory=list)
    reason: str | None = None


class LLMAnswer(BaseModel):
    """The JSON object the LLM must answer with."""

    label: str
    confidence: float
    language: str | None = None
    rationale: str = ""
    fields: LLMFields = Field(default_factory=LLMFields)

    @field_validator("confidence")
    @classmethod
    def _clamp(cls, value: float) -> float:
        return min(max(value, 0.0), 1.0)


def extract_json(content: str) -> dict[str, Any]:
    """The first JSON object in a reply, with or without a Markdown fence around it."""
    start, end = content.find("{"), content.rfind("}")
    if start < 0 or end <= start:
        raise ClassificationError("LLM reply holds no JSON object")
    try:
        value = json.loads(content[start : end + 1])
    except json.JSONDecodeError as exc:
        raise ClassificationError(f"LLM reply is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ClassificationError("LLM reply is JSON but not an object")
    return value


def to_fields(raw: LLMFields) -> tuple[ExtractedFields, list[str]]:
    """Typed fields from the LLM's; anything that does not validate is dropped and reported."""
    problems: list[str] = []
    requested: date | None = None
    if raw.requested_date:
        try:
            requested = date.fromisoformat(raw.requested_date)
        except ValueError:
            problems.append(f"requested_date {raw.requested_date!r} is not YYYY-MM-DD")
    address = None
    if raw.new_address and (raw.new_address.lines or raw.new_address.postcode):
        try:
            address = Address.model_validate(raw.new_address.model_dump())
        except ValidationError:
            problems.append("new_address did not validate (country must be ISO alpha-2)")
    fields = ExtractedFields(
        order_id=raw.order_id,
        tracking_number=raw.tracking_number,
        new_address=address,
        requested_date=requested,
        requested_slot=raw.requested_slot,
        items=raw.items,
        reason=raw.reason,
    )
    return fields, problems


def _language(value: str | None) -> str | None:
    """An ISO 639-1 code, or None: a model may answer "Bahasa Indonesia" for "id"."""
    return value.lower() if value and re.fullmatch(r"[A-Za-z]{2}", value) else None


class LLMClassifier:
    """Classifies with an LLM through the ``openai`` SDK."""

    name = "llm"

    def __init__(
        self,
        settings: LLMSettings,
        *,
        taxonomy: Taxonomy | None = None,
        examples: Sequence[tuple[EmailInput, dict[str, Any]]] = (),
        budget: DailyBudget | None = None,
        pricing: Pricing | None = None,
        attempts: int = 3,
        backoff_seconds: float = 0.5,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.settings = settings
        self.taxonomy = taxonomy or load_taxonomy()
        self.examples = list(examples)
        self.budget = budget or DailyBudget(settings.daily_budget_usd)
        self.pricing = pricing or Pricing()
        self.mode: Mode = "json_schema"
        self._client = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value() if settings.api_key else "not-needed",
            timeout=settings.timeout_seconds,
            max_retries=0,  # retries are ours, below, so they are counted and bounded
        )
        self.attempts, self.backoff_seconds = attempts, backoff_seconds
        self.breaker = breaker or CircuitBreaker(
            failures=settings.breaker_failures, cool_down=settings.breaker_cool_down_seconds
        )

    @property
    def tag(self) -> str:
        """name@model."""
        return f"llm@{self.settings.model}"

    def classify(self, email: EmailInput, context: ClassifyContext) -> Classification:
        """Classify, or return an escalation (``needs_review``) saying what failed."""
        try:
            return self.try_classify(email, context)
        except ClassificationError as exc:
            return Classification(
                label=OTHER,
                confidence=0.0,
                language=email.language,
                rationale="LLM unavailable; needs a human",
                classifier=self.tag,
                needs_review=True,
                abstained=True,
                errors=[str(exc)],
            )

    def try_classify(self, email: EmailInput, context: ClassifyContext) -> Classification:
        """Classify or raise ``ClassificationError``."""
        if not self.budget.allows_call():
            raise ClassificationError(
                f"LLM daily budget of ${self.settings.daily_budget_usd:.2f} reached; "
                "raise TIDINGS_LLM__DAILY_BUDGET_USD or wait for tomorrow (UTC)"
            )
        messages = build_messages(email, self.taxonomy, self.examples)
        content, usage = self._ask(messages)
        try:
            answer = LLMAnswer.model_validate(extract_json(content))
        except ValidationError as exc:
            raise ClassificationError(f"LLM answer does not match the schema: {exc}") from exc
        if answer.label not in self.taxonomy.names:
            raise ClassificationError(f"LLM answered an unknown label {answer.label!r}")
        fields, problems = to_fields(answer.fields)
        return Classification(
            label=answer.label,
            confidence=answer.confidence,
            alternatives=[],
            language=_language(answer.language) or email.language,
            rationale=answer.rationale[:500],
            fields=fields,
            classifier=self.tag,
            needs_review=False,
            usage=usage,
            errors=problems,
        )

    def _call(self, messages: list[dict[str, str]]) -> tuple[str, Usage]:
        """One email's calls: retried on transient errors, all of them inside the email's time
        budget (each attempt's timeout is what is left of it), and not at all while the circuit
        breaker is open."""
        if not self.breaker.allow():
            raise ClassificationError("LLM circuit breaker open after repeated failures; review")
        deadline = time.monotonic() + self.settings.max_seconds_per_email
        retrying = Retrying(
            retry=retry_if_exception_type(TRANSIENT),
            stop=stop_after_attempt(self.attempts)
            | stop_after_delay(self.settings.max_seconds_per_email),
            wait=wait_exponential_jitter(
                multiplier=self.backoff_seconds,
                max=self.backoff_seconds * 16,
                jitter=self.backoff_seconds,
            ),
            reraise=True,
        )
        try:
            result = retrying(self._complete_once, messages, deadline)
        except (*TRANSIENT, BudgetSpentError):
            self.breaker.failed()
            raise
        except openai.APIError:
            self.breaker.succeeded()  # it answered, if only to refuse: the server is up
            raise
        self.breaker.succeeded()
        return result

    def _ask(self, messages: list[dict[str, str]]) -> tuple[str, Usage]:
        """Send, stepping down response formats the server refuses."""
        while True:
            try:
                return self._call(messages)
            except openai.BadRequestError as exc:
                if not self._format_refused(exc) or self.mode == "plain":
                    raise ClassificationError(f"LLM request refused: {exc}") from exc
                self.mode = MODES[MODES.index(self.mode) + 1]
                log.info("LLM server refused a response format; stepping down", mode=self.mode)
            except TRANSIENT as exc:
                raise ClassificationError(f"LLM unreachable after retries: {exc}") from exc
            except openai.APIError as exc:
                raise ClassificationError(f"LLM error: {exc}") from exc

    @staticmethod
    def _format_refused(exc: openai.BadRequestError) -> bool:
        return bool(
            re.search(r"response_format|json_schema|json_object|not supported", str(exc), re.I)
        )

    def _complete_once(self, messages: list[dict[str, str]], deadline: float) -> tuple[str, Usage]:
        left = deadline - time.monotonic()
        if left <= 0.05:
            raise BudgetSpentError("the email's LLM time budget is spent; review")
        started = time.perf_counter()
        kwargs: dict[str, Any] = {}
        if self.mode == "json_schema":
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "classification",
                    "strict": True,
                    "schema": response_schema(self.taxonomy.names),
                },
            }
        elif self.mode == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        response = self._client.chat.completions.create(
            model=self.settings.model,
            messages=messages,  # type: ignore[arg-type]
            temperature=0,
            timeout=min(self.settings.timeout_seconds, left),
            **kwargs,
        )
        usage = self._account(response, messages)
        log.debug("llm call", seconds=round(time.perf_counter() - started, 3), mode=self.mode)
        choice = response.choices[0] if response.choices else None
        if choice is None:
            raise ClassificationError("LLM returned no choices")
        if getattr(choice.message, "refusal", None):
            raise ClassificationError(f"LLM refused: {choice.message.refusal}")
        return choice.message.content or "", usage

    def _account(self, response: Any, messages: list[dict[str, str]]) -> Usage:
        """Tokens and cost of a call, estimated at 4 characters a token when not reported."""
        reported = getattr(response, "usage", None)
        if reported is not None:
            prompt, completion = reported.prompt_tokens or 0, reported.completion_tokens or 0
        else:
            prompt = sum(len(m["content"]) for m in messages) // 4
            completion = sum(len(c.message.content or "") for c in response.choices) // 4
        cost = self.pricing.cost(prompt, completion)
        self.budget.record(cost)
        return Usage(llm_calls=1, prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost)


@register("llm")
def llm_classifier(
    settings: Settings, *, examples: Sequence[tuple[EmailInput, dict[str, Any]]] = ()
) -> LLMClassifier:
    """The LLM alone; needs ``TIDINGS_LLM__BASE_URL`` (or a key for the default endpoint)."""
    if not settings.llm.enabled:
        raise ConfigError("the llm classifier needs TIDINGS_LLM__BASE_URL (and usually __API_KEY)")
    return LLMClassifier(
        settings.llm, taxonomy=load_taxonomy(settings.taxonomy_file), examples=examples
    )
