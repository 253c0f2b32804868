"""The variables a template may use, as pydantic models, and their read-only render form.

Callers hand variables over as JSON (the outbox stores them that way) or as Python values; the
models validate both and name the broken field. ``to_context`` turns them into ``Record`` objects:
read-only, attribute access only, and fast for the sandbox to look into.
"""

from __future__ import annotations

import datetime as dt
import typing
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Final

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    model_validator,
)

from tidings.config.brands import Brand
from tidings.domain import from_minor
from tidings.errors import TemplateError


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in a currency; print it with ``| money``."""

    amount: Decimal
    currency: str


def _parse_money(value: Any) -> Money:
    """Accept a Money, ``{"amount": "1499.00", "currency": "INR"}`` or ``{"minor": 149900}``."""
    if isinstance(value, Money):
        return value
    if not isinstance(value, dict) or not isinstance(value.get("currency"), str):
        raise ValueError('money must look like {"amount": "1499.00", "currency": "INR"}')
    currency = value["currency"]
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise ValueError(f"currency must be an ISO 4217 code like INR, got {currency!r}")
    try:
        if "minor" in value:
            minor = value["minor"]
            if not isinstance(minor, int) or isinstance(minor, bool):
                raise ValueError("minor must be an integer number of paise, sen...")
            amount = from_minor(minor, currency)
        else:
            amount = Decimal(str(value["amount"]))
    except (KeyError, InvalidOperation) as exc:
        raise ValueError('money needs "amount" (a decimal string) or "minor" (an integer)') from exc
    if not amount.is_finite():
        raise ValueError("money amount must be a finite number")
    return Money(amount=amount, currency=currency)


def _dump_money(value: Money) -> dict[str, str]:
    return {"amount": str(value.amount), "currency": value.currency}


MoneyField = Annotated[Money, PlainValidator(_parse_money), PlainSerializer(_dump_money)]


class _Section(BaseModel):
    """A group of variables; unknown keys are refused so a caller's typo fails loudly."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerVars(_Section):
    """``customer.*``; ``first_name`` defaults to the first word of ``name``."""

    name: str
    first_name: str

    @model_validator(mode="before")
    @classmethod
    def _first_name_from_name(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and not data.get("first_name")
            and isinstance(data.get("name"), str)
        ):
            return {**data, "first_name": (data["name"].split() or [""])[0]}
        return data


class BrandVars(_Section):
    """``brand.*``, filled from the brands file when the caller leaves it out."""

    name: str
    sign_off: str
    support_email: str


class ItemVars(_Section):
    """One entry of ``order.items``."""

    name: str
    quantity: int = 1


class OrderVars(_Section):
    """``order.*``; ``item_count`` defaults to the sum of the items' quantities."""

    number: str
    total: MoneyField
    placed_at: AwareDatetime
    items: tuple[ItemVars, ...] = ()
    item_count: int

    @model_validator(mode="before")
    @classmethod
    def _count_items(cls, data: Any) -> Any:
        if isinstance(data, dict) and "item_count" not in data:
            quantities = [
                item.quantity if isinstance(item, ItemVars) else item.get("quantity", 1)
                for item in data.get("items") or ()
                if isinstance(item, ItemVars | dict)
            ]
            if all(isinstance(q, int) for q in quantities):
                return {**data, "item_count": sum(quantities)}
        return data


class ShipmentVars(_Section):
    """``shipment.*``; carrier and tracking are none until a parcel ships."""

    carrier_name: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    eta: dt.date | None = None


class DelayVars(_Section):
    """``delay.*``."""

    new_eta: dt.date | None = None
    reason: str = ""


class AddressVars(_Section):
    """``address.*``."""

    one_line: str


class RescheduleVars(_Section):
    """``reschedule.*``: options to choose from, or the chosen date and slot."""

    options: tuple[dt.date, ...] = ()
    date: dt.date | None = None
    slot: str | None = None
    reply_hint: str = ""


class AttemptVars(_Section):
    """``attempt.*``."""

    next_attempt: dt.date | None = None
    reason: str = ""


class CustomsVars(_Section):
    """``customs.*``."""

    action: str
    deadline: dt.date | None = None
    amount: MoneyField | None = None


class BackorderVars(_Section):
    """``backorder.*``."""

    items: tuple[str, ...]
    eta: dt.date | None = None


class PartialVars(_Section):
    """``partial.*``."""

    shipped_items: tuple[str, ...]
    pending_items: tuple[str, ...]
    pending_eta: dt.date | None = None


class CancellationVars(_Section):
    """``cancellation.*``."""

    refund_amount: MoneyField | None = None
    refund_days: int


class CaseVars(_Section):
    """``case.*``."""

    reference: str
    reply: str


class LinksVars(_Section):
    """``links.*``; ``unsubscribe`` is for email only."""

    help: str
    unsubscribe: str | None = None


class TemplateVariables(_Section):
    """Every variable a template may use (docs/templates.md); optional sections come with their
    events only."""

    customer: CustomerVars
    brand: BrandVars
    order: OrderVars | None = None  # None only for replies about no order (case_reply)
    shipment: ShipmentVars = ShipmentVars()
    links: LinksVars
    delay: DelayVars | None = None
    address: AddressVars | None = None
    reschedule: RescheduleVars | None = None
    attempt: AttemptVars | None = None
    customs: CustomsVars | None = None
    backorder: BackorderVars | None = None
    partial: PartialVars | None = None
    cancellation: CancellationVars | None = None
    case: CaseVars | None = None


def brand_vars(brand: Brand) -> dict[str, str]:
    """The ``brand`` section for a configured brand."""
    return {
        "name": brand.name,
        "sign_off": brand.voice.sign_off,
        "support_email": brand.senders.email.address,
    }


def parse_variables(variables: dict[str, Any], *, brand: Brand | None = None) -> TemplateVariables:
    """Validate caller variables, filling ``brand`` from the brands file when absent."""
    data = dict(variables)
    if brand is not None and "brand" not in data:
        data["brand"] = brand_vars(brand)
    try:
        return TemplateVariables.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'variables'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise TemplateError(
            f"template variables are invalid ({problems}); see docs/templates.md for their shape"
        ) from exc


class Record:
    """A read-only group of template values: attribute access only, nothing else to call.

    The sandbox reads ``_fields`` directly (see ``sandbox.TemplateEnvironment.getattr``);
    attributes starting with ``_`` are invisible to templates.
    """

    __slots__ = ("_fields", "_path")

    def __init__(self, path: str, fields: dict[str, Any]) -> None:
        self._path = path
        self._fields = fields

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._fields[name]

    def __repr__(self) -> str:
        return f"<{self._path}>"


def _convert(value: Any, path: str) -> Any:
    if isinstance(value, BaseModel):
        return Record(
            path,
            {
                name: _convert(getattr(value, name), f"{path}.{name}")
                for name in type(value).model_fields
            },
        )
    if isinstance(value, tuple | list):
        return tuple(_convert(item, f"{path}[]") for item in value)
    return value


def to_context(variables: TemplateVariables) -> dict[str, Any]:
    """The render context: one ``Record`` per section present; absent sections stay undefined."""
    context: dict[str, Any] = {}
    for name in TemplateVariables.model_fields:
        value = getattr(variables, name)
        if value is not None:
            context[name] = _convert(value, name)
    return context


def _optional_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = info.annotation
        if type(None) in typing.get_args(annotation):
            paths.add(path)
        inner = [arg for arg in typing.get_args(annotation) if arg is not type(None)] or [
            annotation
        ]
        if isinstance(inner[0], type) and issubclass(inner[0], BaseModel):
            paths |= _optional_paths(inner[0], f"{path}.")
    return paths


# Variables that may be none ("shipment.eta", "reschedule.slot"...): printing them needs a guard.
OPTIONAL_PATHS: Final = frozenset(_optional_paths(TemplateVariables))
