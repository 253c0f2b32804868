"""The basic parse step's reader: headers, text from plain or HTML, order ids; never a crash."""

from __future__ import annotations

from email.header import Header
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.errors import InboxError
from tidings.inbox.parse import html_to_text, parse_email

SAMPLES = Path(__file__).resolve().parent.parent / "tidings" / "demo" / "emails"
PATTERNS = [r"\bKAP-\d{6}\b", r"\bSERI-\d{5}\b", r"\bGRH-\d{6}\b"]


class TestParse:
    @pytest.mark.parametrize("path", sorted(SAMPLES.rglob("*.eml")), ids=lambda p: p.name)
    def test_every_sample_parses_with_text(self, path: Path) -> None:
        """Each bundled sample yields a sender and readable text."""
        parsed = parse_email(path.read_bytes(), order_id_patterns=PATTERNS)
        assert parsed.sender is not None
        assert len(parsed.text) > 20

    def test_encoded_devanagari_subject_is_decoded(self) -> None:
        """RFC 2047 subjects come out as text."""
        encoded = Header("मेरा ऑर्डर", "utf-8").encode()
        assert encoded.startswith("=?utf-8?b?")
        raw = f"From: a@example.in\r\nSubject: {encoded}\r\n\r\nKAP-240311 kab aayega?\r\n".encode()
        parsed = parse_email(raw, order_id_patterns=PATTERNS)
        assert parsed.subject == "मेरा ऑर्डर"
        assert parsed.order_ids == ["KAP-240311"]

    def test_html_hidden_parts_are_dropped(self) -> None:
        """Scripts and styles never reach the text the classifier reads."""
        text = html_to_text(
            "<html><head><style>p{}</style></head><body><p>Parcel held</p>"
            "<script>alert('x')</script><p>at customs</p></body></html>"
        )
        assert text == "Parcel held\nat customs"

    def test_empty_input_is_an_inbox_error(self) -> None:
        """Nothing to read raises the error that quarantines the email."""
        with pytest.raises(InboxError):
            parse_email(b"   ")

    @settings(max_examples=150, deadline=None)
    @given(st.binary(max_size=2000))
    def test_arbitrary_bytes_never_crash(self, raw: bytes) -> None:
        """Any bytes give a ParsedEmail or an InboxError, never another exception."""
        try:
            parse_email(raw, order_id_patterns=PATTERNS)
        except InboxError:
            pass
