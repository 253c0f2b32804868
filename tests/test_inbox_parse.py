"""The parser's steps one by one: headers, charsets, HTML, quotes, forwards, language, sender
kind, order ids and tracking numbers; and the parse step filling the row."""

from __future__ import annotations

import csv
import time
from email.header import Header
from pathlib import Path

import pytest
from sqlalchemy import select

from tidings.config import BrandsFile
from tidings.config.settings import InboxSettings
from tidings.errors import ConfigError, InboxError
from tidings.inbox.charset import decode_text, repair_mojibake
from tidings.inbox.headers import decode_value
from tidings.inbox.html import html_to_text
from tidings.inbox.import_files import email_files, import_files
from tidings.inbox.language import detect_language, detector
from tidings.inbox.parse import parse_email
from tidings.inbox.patterns import find_order_ids, find_tracking_numbers
from tidings.inbox.quotes import split_body
from tidings.inbox.sender import SenderLists, sender_kind
from tidings.pipeline.steps import parse_step
from tidings.pipeline.worker import Worker
from tidings.store.db import SessionFactory
from tidings.store.enums import EmailState
from tidings.store.models import InboundEmail

SAMPLES = Path(__file__).resolve().parent.parent / "tidings" / "demo" / "emails"
PATTERNS = [r"\bKAP-\d{6}\b", r"\bSERI-\d{5}\b", r"\bGRH-\d{6}\b"]
DEFAULTS = InboxSettings()
LISTS = SenderLists.build(
    carriers=DEFAULTS.carrier_domains,
    customers=DEFAULTS.customer_domains,
    own=["kapas.example"],
)


def mail(body: str, subject: str = "Order", sender: str = "Asha <asha@gmail.com>") -> bytes:
    """A minimal UTF-8 text email."""
    return (
        f"From: {sender}\r\nTo: support@kapas.example\r\nSubject: {subject}\r\n"
        f"Message-ID: <x@test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


class TestHeaders:
    @pytest.mark.parametrize(
        "text",
        ["मेरा ऑर्डर कहाँ है", "Pesanan saya belum sampai", "Barang rosak 😭", "注文 KAP-1"],
    )
    def test_rfc2047_subjects_in_any_script(self, text: str) -> None:
        """Encoded words in base64 or Q decode to the original text."""
        for encoding in ("b", "q"):
            encoded = Header(text, "utf-8").encode() if encoding == "b" else _q(text)
            assert decode_value(encoded) == text

    def test_bad_encoded_word_spoils_only_itself(self) -> None:
        """A broken word stays as it is; its neighbours still decode."""
        value = "=?utf-8?q?Pesanan?= =?bogus?x?zz?= =?utf-8?b?" + "cnVzYWs=" + "?="
        assert decode_value(value) == "Pesanan =?bogus?x?zz?= rusak"


def _q(text: str) -> str:
    body = "".join(
        c if c.isascii() and c.isalnum() else f"={b:02X}"
        for c in text
        for b in ([ord(c)] if c.isascii() and c.isalnum() else list(c.encode()))
    )
    return f"=?utf-8?q?{body}?="


class TestCharsets:
    def test_utf8_labelled_latin1_is_repaired(self) -> None:
        """Valid UTF-8 under a Latin-1 label is read as UTF-8, with a warning."""
        decoded = decode_text("Dañado – ok".encode(), "iso-8859-1")
        assert decoded.text == "Dañado – ok" and decoded.warning

    def test_unknown_label_falls_back(self) -> None:
        """A label Python does not know still gives readable text."""
        assert decode_text("नमस्ते".encode(), "x-klingon").text == "नमस्ते"

    def test_mojibake_is_undone_once(self) -> None:
        """Text decoded twice (é -> Ã©) is repaired; clean text is left alone."""
        assert repair_mojibake("cafÃ© â€“ ok") == "café – ok"
        assert repair_mojibake("café – ok") is None

    def test_nul_characters_are_dropped(self) -> None:
        """NUL never reaches the text (PostgreSQL refuses it)."""
        assert decode_text(b"a\x00b", "utf-8").text == "ab"


class TestHtml:
    def test_hidden_text_never_reaches_the_classifier(self) -> None:
        """display:none, zero font size, hidden attribute, scripts and styles are all dropped."""
        text = html_to_text(
            "<style>p{}</style><p>Visible</p><div style='display: none'>hidden 1</div>"
            "<span style='font-size:0'>hidden 2</span><p hidden>hidden 3</p>"
            "<script>hidden 4</script><div style='mso-hide:all'>hidden 5</div>"
        )
        assert text == "Visible"

    def test_blockquotes_become_quote_lines(self) -> None:
        """Quoted HTML comes out as '> ' lines, like plain-text mail."""
        assert html_to_text("<p>new</p><blockquote><p>old</p></blockquote>") == "new\n> old"

    def test_deep_nesting_is_fast(self) -> None:
        """50,000 nested elements do not stall the parser."""
        started = time.perf_counter()
        assert html_to_text("<div>" * 50_000 + "x" + "</div>" * 50_000) == "x"
        assert time.perf_counter() - started < 2


class TestQuotes:
    def test_reply_quote_and_signature_are_split_off(self) -> None:
        """The new text stays; the quote and a sign-off block go to their own fields."""
        split = split_body(
            "Saturday please.\n\nThanks,\nRohan\n\nOn Mon, 1 Dec 2026, Kapas <s@k.example> "
            "wrote:\n> When?\n",
            subject="Re: order",
        )
        assert split.author == "Saturday please."
        assert split.signature.startswith("Thanks,") and "> When?" in split.quoted

    def test_content_after_a_thanks_line_is_kept(self) -> None:
        """'Thanks, but...' in the middle is the customer's words, not a signature."""
        body = "Thanks, but the parcel never came.\nPlease check KAP-240311 today.\n- Asha"
        assert split_body(body).author == body

    def test_hyphen_lists_are_kept(self) -> None:
        """Items listed with '- ' are content (mail-parser-reply would cut them)."""
        body = "Missing:\n- one lid\n- one pan\nPlease send them."
        assert split_body(body).author == body

    def test_forwarded_text_is_kept_not_quoted(self) -> None:
        """An inline forward is kept in the text the classifier reads."""
        split = split_body(
            "FYI\n\n---------- Forwarded message ---------\nFrom: JNE <cs@jne.co.id>\n\n"
            "Paket gagal diantar.",
            subject="Fwd: paket",
        )
        assert split.author == "FYI" and "gagal diantar" in split.forwarded and not split.quoted

    def test_carrier_body_with_date_and_to_lines_is_not_a_quote(self) -> None:
        """'Date:' and 'To:' lines inside a notice are not a reply header."""
        body = "Shipment details\nDate: 19-11-2026\nTo: Kapas Studio\nStatus: NDR\nPlease update."
        assert split_body(body).author == body


class TestParsedEmail:
    def test_forwarded_carrier_notice_is_readable(self) -> None:
        """A message/rfc822 carrier notice forwarded by a customer is in the text."""
        raw = (SAMPLES / "seri-support" / "07-fw-attached-new-address.eml").read_bytes()
        parsed = parse_email(raw, order_id_patterns=PATTERNS)
        assert len(parsed.forwarded) == 1 and parsed.forwarded[0].sender is not None
        assert "receiver not at address" in parsed.text
        assert parsed.sender_kind == "customer" and parsed.order_ids == ["SERI-41255"]
        assert "630018827461" in parsed.tracking_numbers
        assert [a.content_type for a in parsed.attachments] == ["message/rfc822"]

    def test_thread_fields(self) -> None:
        """In-Reply-To and References (even RFC 2047-mangled ones) give the thread."""
        raw = (SAMPLES / "kapas-support" / "04-re-reschedule-saturday.eml").read_bytes()
        parsed = parse_email(raw, order_id_patterns=PATTERNS)
        assert parsed.in_reply_to == "kc-ticket-88213.1763550720@kapas.example"
        assert len(parsed.references) == 2 and parsed.thread_id == parsed.references[0]
        assert "Blue Dart tried" in parsed.quoted and "Blue Dart tried" not in parsed.text

    def test_samples_agree_with_their_labels(self) -> None:
        """Language and sender kind match the labels of the demo samples (one label, 'unknown'
        for a customer writing from a second address, needs the order to know)."""
        labels = list(csv.DictReader((SAMPLES / "labels.csv").open(encoding="utf-8")))
        wrong = []
        for row in labels:
            parsed = parse_email((SAMPLES / row["file"]).read_bytes(), order_id_patterns=PATTERNS)
            if (parsed.language, parsed.sender_kind) != (row["language"], row["sender_kind"]):
                wrong.append(row["file"])
        assert wrong == ["griha-support/01-urgent-address-update.eml"]

    def test_oversized_and_empty_are_inbox_errors(self) -> None:
        """Too big or empty: InboxError, whose message says what to do."""
        with pytest.raises(InboxError, match="MAX_EMAIL_BYTES"):
            parse_email(mail("x" * 5000), max_bytes=1000)
        with pytest.raises(InboxError, match="empty"):
            parse_email(b"\r\n")

    def test_bad_pattern_is_a_config_error(self) -> None:
        """A broken order-id regex names itself and where to fix it."""
        with pytest.raises(ConfigError, match="order_id_patterns"):
            parse_email(mail("x"), order_id_patterns=["KAP-("])


class TestLanguage:
    @pytest.mark.parametrize(
        ("text", "code"),
        [
            ("Where is my order? It was supposed to arrive yesterday.", "en"),
            ("मेरा ऑर्डर अभी तक नहीं आया, कृपया जल्दी बताइए।", "hi"),
            ("bhai mera order abhi tak nahi aaya, kab aayega?", "hi"),
            ("Paket saya belum sampai, tolong dicek ya kak.", "id"),
            ("Barang saya belum sampai lagi, bila boleh hantar?", "ms"),
            ("ok", None),
        ],
    )
    def test_detects_the_four_languages(self, text: str, code: str | None) -> None:
        """en, hi (Devanagari and romanised), id and ms, and None when there is too little."""
        assert detect_language(text) == code

    def test_detector_is_built_once(self) -> None:
        """The lingua detector is a process-wide singleton."""
        assert detector() is detector()


class TestSenderKind:
    @pytest.mark.parametrize(
        ("address", "name", "subject", "kind"),
        [
            ("ndr@delhivery.com", "Delhivery", "NDR", "carrier"),
            ("noreply@notification.jtexpress-my.example", "J&T", "Delivered", "carrier"),
            ("fc@delhivery.com", "Delhivery Fulfilment FC", "Split", "supplier"),
            ("sales@tristeel-housewares.example", "TriSteel", "Stock status", "supplier"),
            ("owner@gmail.com", "Ramesh", "PO KC/2611/118 delayed", "supplier"),
            ("asha@gmail.com", "Asha", "Where is my order", "customer"),
            ("care@kapas.example", "Kapas", "Re: order", "unknown"),
            (None, "J&T Express Malaysia", "Update", "carrier"),
        ],
    )
    def test_kinds(self, address: str | None, name: str, subject: str, kind: str) -> None:
        """Domain lists, free mail, names and subject cues decide the kind."""
        assert (
            sender_kind(address=address, name=name, subject=subject, headers={}, lists=LISTS)
            == kind
        )

    def test_automated_mail_from_unknown_domain_is_unknown(self) -> None:
        """A bulk mail from a domain nobody listed is 'unknown', not a customer."""
        headers = {"precedence": "bulk", "list-unsubscribe": "<mailto:u@x>"}
        kind = sender_kind(
            address="news@shop.example", name="", subject="Sale", headers=headers, lists=LISTS
        )
        assert kind == "unknown"


class TestPatterns:
    def test_order_ids_in_order_of_appearance(self) -> None:
        """Each brand pattern's matches, upper-cased, first appearance first, no repeats."""
        text = "re kap-240311 and GRH-510077, again KAP-240311"
        assert find_order_ids(text, [r"(?i)\bKAP-\d{6}\b", r"\bGRH-\d{6}\b"]) == [
            "KAP-240311",
            "GRH-510077",
        ]

    def test_tracking_numbers_by_keyword_and_format(self) -> None:
        """Keyword-anchored numbers, UPU S10 and batch siblings; order ids are left out."""
        text = (
            "AWB 2384710096523 and 2384710096999 for KAP-240311; nomor resi: JP4820774031; "
            "postal EE608214937IN; call +91 98000 00001"
        )
        found = find_tracking_numbers(text, DEFAULTS.tracking_patterns, exclude=["KAP-240311"])
        assert found == ["2384710096523", "JP4820774031", "EE608214937IN", "2384710096999"]


class TestParseStep:
    def test_fills_language_and_sender_kind(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """The parse step stores the ParsedEmail and fills the row's language and sender kind;
        brand rows are searched with their own brand's order-id patterns."""
        files = email_files(SAMPLES / "seri-support")
        import_files(session_factory=sessions, files=files, mailbox="seri-support")
        Worker(
            session_factory=sessions, steps=[parse_step(brands, InboxSettings())]
        ).run_until_idle()
        with sessions() as session:
            rows = session.scalars(select(InboundEmail)).all()
        assert {r.state for r in rows} == {EmailState.PARSED}
        kinds = {r.sender_kind for r in rows}
        assert kinds == {"customer", "carrier", "supplier"}
        assert {r.language for r in rows} == {"en", "id", "ms"}
        assert all(r.parsed and r.parsed["sender_kind"] == r.sender_kind for r in rows)


class TestHiddenTextAndForgedSenders:
    @pytest.mark.parametrize(
        "hidden",
        [
            '<span style="color:#ffffff">SECRET</span>',
            '<div style="background:#fff"><span style="color:#fefefe">SECRET</span></div>',
            '<span style="color:black;background-color:black">SECRET</span>',
            '<div style="position:absolute;left:-9999px;top:-9999px">SECRET</div>',
            '<p style="font-size:1px">SECRET</p>',
            '<p style="text-indent:-9999px">SECRET</p>',
            '<div style="height:0;overflow:hidden">SECRET</div>',
        ],
    )
    def test_text_nobody_can_read_is_dropped(self, hidden: str) -> None:
        """White on white, a pixel tall, off the page: an instruction hidden for a machine."""
        html = f"<p>Where is my order?</p>{hidden}"
        raw = (
            "From: a@example.com\r\nSubject: q\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            + html
        ).encode()
        text = parse_email(raw).text
        assert "Where is my order?" in text and "SECRET" not in text

    def test_light_text_on_a_dark_band_is_kept(self) -> None:
        """A carrier's white-on-dark header is read: it is visible."""
        html = '<table bgcolor="#1a1a1a"><tr><td><b style="color:#fff">Delivery failed</b></td></tr></table>'
        raw = (
            "From: a@example.com\r\nSubject: q\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            + html
        ).encode()
        assert "Delivery failed" in parse_email(raw).text

    def test_a_from_its_domain_disowns_is_marked(self) -> None:
        """Authentication-Results with DMARC failing marks the sender as disowned."""
        raw = (
            b"Authentication-Results: mx.kapas.example; spf=fail smtp.mailfrom=gmail.com;"
            b" dkim=none; dmarc=fail header.from=gmail.com\r\n"
            b"From: meera.iyer@gmail.com\r\nSubject: new address\r\n\r\nPlease move my order."
        )
        assert parse_email(raw).sender_disowned is True
        assert parse_email(raw.split(b"\r\n", 1)[1]).sender_disowned is False
