"""The text a statistical model sees: subject and body, normalised so it generalises.

Digits become 0 (order and tracking numbers are noise to a category), links and addresses become
tokens, and the sender kind is a token of its own: a carrier's "delivery failed" and a customer's
"delivery failed" are different exceptions.
"""

from __future__ import annotations

import re

from tidings.classifiers.types import EmailInput

MAX_CHARS = 6000  # long threads: the head says what the email is about
_URL = re.compile(r"https?://\S+|www\.\S+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"[ \t\r\f\v]+")
# Quoted history of a reply describes the previous message, not this one. The inbox's parser
# strips it from real mail; datasets keep it, so it is dropped here too, the same way for
# training and inference. A body that is nothing but a quote keeps it.
_QUOTED = re.compile(r"^\s*>.*$|^On .{5,80} wrote:\s*$|^Pada .{5,80} menulis:\s*$", re.MULTILINE)
MIN_OWN_CHARS = 25


def unquoted(text: str) -> str:
    """The text without quoted history, unless that leaves (almost) nothing."""
    own = _QUOTED.sub("", text)
    return own if len(own.strip()) >= MIN_OWN_CHARS else text


def model_text(email: EmailInput) -> str:
    """Normalised subject + text with a sender-kind token in front; a chat message also gets its
    medium and the notice it answers as tokens ("560038" answering "confirm your address" is an
    address change; alone it is nothing)."""
    body = unquoted(email.text)
    text = f"{email.subject}\n{body}"[:MAX_CHARS].lower()
    text = _URL.sub(" httplink ", text)
    text = _EMAIL.sub(" emailaddr ", text)
    text = _DIGIT.sub("0", text)
    text = _SPACE.sub(" ", text)
    context = f"senderkind{email.sender_kind}"
    if email.medium != "email":
        notice = (email.answers_notice or "none").replace("_", "")
        context += f" medium{email.medium} answers{notice}"
    return f"{context} {text}"
