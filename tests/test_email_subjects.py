"""Every bundled email subject survives the trip through MIME, read back as mail clients read it."""

from __future__ import annotations

import email.header
import re
from email import policy
from email.parser import BytesParser

import pytest

from tidings.channels.base import OutboundMessage
from tidings.channels.smtp import build_email
from tidings.store.enums import ChannelKind
from tidings.templates.bundled import BundledTemplate, read_bundled
from tidings.templates.render import render_source
from tidings.templates.samples import sample_variables

SUBJECTS = [t for t in read_bundled()[0] if t.subject]


def _rendered_subject(template: BundledTemplate) -> str:
    assert template.subject is not None
    variables = sample_variables(template.event, template.language)
    text = render_source(
        template.subject, language=template.language, time_zone="Asia/Kolkata", variables=variables
    )
    return " ".join(text.split())


def _raw_subject(raw: bytes) -> str:
    """The Subject field as it stands in the message, unfolded (RFC 5322 2.2.3)."""
    head = raw.split(b"\n\n", 1)[0].decode("ascii")
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", head)
    return next(line for line in unfolded.splitlines() if line.startswith("Subject:"))[8:].strip()


@pytest.mark.parametrize("template", SUBJECTS, ids=lambda t: t.label())
def test_subject_reads_back_exactly(template: BundledTemplate) -> None:
    """RFC 2047 decoders (Python's modern parser, and the classic decode_header a client uses)
    read every word and every space of the subject back."""
    subject = _rendered_subject(template)
    message = OutboundMessage(
        notification_id=1,
        idempotency_key="k",
        kind=ChannelKind.EMAIL,
        brand="kapas",
        sender="care@kapas.example",
        recipient="customer@example.com",
        subject=subject,
        text="x",
    )
    raw = build_email(message).as_bytes()
    assert all(len(line) <= 78 for line in raw.split(b"\n\n", 1)[0].splitlines())
    modern = BytesParser(policy=policy.default).parsebytes(raw)["Subject"]
    classic = str(email.header.make_header(email.header.decode_header(_raw_subject(raw))))
    assert modern == subject
    assert classic == subject


def test_every_language_has_subjects() -> None:
    """The check covers all four languages' subjects."""
    assert {t.language for t in SUBJECTS} == {"en", "hi", "id", "ms"}
    assert len(SUBJECTS) > 100
