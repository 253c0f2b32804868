"""What goes into a classifier and what comes out of it."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from tidings.domain import Address

SenderKind = Literal["customer", "carrier", "supplier", "unknown"]
Medium = Literal["email", "whatsapp", "sms"]


class EmailInput(BaseModel):
    """The parts of an email a classifier reads. Built from a ``ParsedEmail`` or a dataset row."""

    subject: str = ""
    text: str
    sender: str | None = None
    sender_kind: SenderKind = "unknown"
    language: str | None = None
    sent_on: date | None = Field(default=None, description="resolves 'tomorrow', 'besok', 'kal'")
    medium: Medium = "email"
    answers_notice: str | None = Field(
        default=None,
        description="the event of our last notice to this customer that the message replies to "
        "(a chat reply '560038' means one thing after 'confirm your address' and another alone)",
    )


class ClassifyContext(BaseModel):
    """What the caller knows beyond the email: the brand's patterns and thresholds."""

    brand: str | None = None
    order_id_patterns: list[str] = Field(default_factory=list)
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="brand minimums; they can only raise the model's"
    )


class ExtractedFields(BaseModel):
    """Facts found in the email. Only what the email says; None when absent."""

    order_id: str | None = None
    tracking_number: str | None = None
    new_address: Address | None = None
    requested_date: date | None = None
    requested_slot: str | None = None
    items: list[str] = Field(default_factory=list)
    reason: str | None = None


class Alternative(BaseModel):
    """A runner-up label with its probability."""

    label: str
    confidence: float = Field(ge=0, le=1)


class Usage(BaseModel):
    """What an LLM call cost."""

    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class Classification(BaseModel):
    """A classifier's verdict."""

    label: str
    confidence: float = Field(ge=0, le=1, description="calibrated probability of the label")
    alternatives: list[Alternative] = Field(default_factory=list)
    language: str | None = None
    rationale: str = ""
    fields: ExtractedFields = Field(default_factory=ExtractedFields)
    classifier: str = Field(description="name@version of what decided")
    needs_review: bool = Field(default=False, description="a human should confirm before acting")
    abstained: bool = Field(
        default=False, description="no real answer (the classifier failed): evals count it wrong"
    )
    usage: Usage = Field(default_factory=Usage)
    errors: list[str] = Field(default_factory=list, description="what failed on the way")
