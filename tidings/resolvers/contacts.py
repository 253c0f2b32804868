"""Is the sender the order's customer? Email addresses compared as mail systems do, phone
numbers in E.164 (``phonenumbers``), so "+91 98765 43210" and "098765 43210" are one person."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from tidings.resolvers.order_api import CustomerView


def normalise_email(address: str | None) -> str | None:
    """The address as a mailbox compares it (domain lower-cased, IDNA), or None if invalid."""
    if not address:
        return None
    try:
        valid = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    local, _, domain = valid.normalized.rpartition("@")
    return f"{local.lower()}@{domain.lower()}"


def e164(phone: str | None, country: str | None = None) -> str | None:
    """A phone number in E.164 (+919876543210), or None when it is not a valid number."""
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone.removeprefix("whatsapp:"), country or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_customer(
    customer: CustomerView, *, email: str | None, phone: str | None, country: str | None = None
) -> bool:
    """Whether the sender (email address or phone) is this customer."""
    sender_email = normalise_email(email)
    if sender_email is not None and sender_email == normalise_email(customer.email):
        return True
    sender_phone = e164(phone, country)
    return sender_phone is not None and sender_phone == e164(customer.phone, country)
