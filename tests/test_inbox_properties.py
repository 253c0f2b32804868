"""Property-based tests (hypothesis) on the parser: whatever the input, no crash; whatever a
well-formed email says, the parser reads it back."""

from __future__ import annotations

import re
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidings.errors import InboxError
from tidings.inbox.charset import decode_text
from tidings.inbox.headers import decode_value
from tidings.inbox.html import html_to_text
from tidings.inbox.parse import parse_email
from tidings.inbox.patterns import find_order_ids
from tidings.inbox.quotes import split_body

PATTERNS = [r"\bKAP-\d{6}\b"]
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Words from the four languages; none of them is a sign-off or a reply header on its own.
WORDS = " ".join(
    [
        "order parcel late where address please change today tomorrow delivered damaged",
        "pesanan barang belum sampai alamat tolong besok hari kiriman rosak tukar bila",
        "ऑर्डर पार्सल कब आएगा पता बदलना कृपया आज कल टूटा वापस",
        "bhai mera abhi tak nahi aaya 42 7 2026 ✓ 📦 ñandú café",
    ]
).split()
word = st.sampled_from(WORDS)
line = st.lists(word, min_size=1, max_size=12).map(" ".join)
paragraph = st.lists(line, min_size=1, max_size=6).map("\n".join)
order_id = st.integers(100000, 999999).map(lambda n: f"KAP-{n}")
# Text that is itself valid mojibake (UTF-8 read as Windows-1252, e.g. "Ã©") is the one input
# the charset repair may rewrite; its lead characters are left out.
printable = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x00ÃÂâà"),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() != "")


def no_internal_error(raw: bytes) -> None:
    """Parse; an InboxError is an allowed answer, a parser bug is not."""
    try:
        parse_email(raw, order_id_patterns=PATTERNS)
    except InboxError as exc:
        assert "internal parser error" not in str(exc), str(exc)


@st.composite
def emails(draw: st.DrawFn) -> tuple[bytes, str, str, list[str]]:
    """A well-formed email in a random shape: (raw, subject, body, order ids in the body)."""
    subject = draw(printable)
    ids = draw(st.lists(order_id, max_size=3, unique=True))
    body = draw(paragraph) + ("\n" + " ".join(ids) if ids else "")
    message = EmailMessage()
    message["From"] = "Asha Rao <asha@gmail.com>"
    message["To"] = "support@kapas.example"
    message["Subject"] = subject
    message["Message-ID"] = "<p@test>"
    charset = draw(st.sampled_from(["utf-8", "utf-16", "iso-8859-1", "windows-1252"]))
    cte = draw(st.sampled_from(["base64", "quoted-printable", "8bit"]))
    try:
        body.encode(charset)
    except UnicodeEncodeError:
        charset = "utf-8"
    if charset == "utf-16":
        cte = "base64"
    shape = draw(st.sampled_from(["plain", "html", "alternative", "attachment", "forwarded"]))
    if shape == "html":
        html = "<p>" + body.replace("\n", "</p><p>") + "</p>"
        message.set_content(html, subtype="html", charset=charset, cte=cte)
    else:
        message.set_content(body, charset=charset, cte=cte)
    if shape == "alternative":
        message.add_alternative("<p>" + body.replace("\n", "<br>") + "</p>", subtype="html")
    elif shape == "attachment":
        message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="a.pdf")
    elif shape == "forwarded":
        inner = EmailMessage()
        inner["From"] = "JNE <cs@jne.co.id>"
        inner["Subject"] = "Paket gagal diantar"
        inner.set_content("Kiriman gagal diantar hari ini.")
        message.add_attachment(inner)
    for index, part in enumerate(message.walk()):
        if part.is_multipart():
            part.set_boundary(f"==boundary{index}==")  # the library would draw random ones
    return message.as_bytes(policy=SMTP), subject, body, ids


def squash(text: str) -> str:
    """Whitespace-insensitive form for comparisons."""
    return re.sub(r"\s+", " ", text).strip()


class TestNeverCrashes:
    @FAST
    @given(st.binary(max_size=3000))
    def test_arbitrary_bytes(self, raw: bytes) -> None:
        """Any bytes: a ParsedEmail or an InboxError, never a parser bug."""
        no_internal_error(raw)

    @FAST
    @given(emails(), st.data())
    def test_mangled_emails(
        self, email: tuple[bytes, str, str, list[str]], data: st.DataObject
    ) -> None:
        """A real email with random bytes overwritten, cut or duplicated still never crashes."""
        raw = bytearray(email[0])
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(0, len(raw) - 1))
            raw[at : at + data.draw(st.integers(0, 40))] = data.draw(st.binary(max_size=40))
        no_internal_error(bytes(raw))

    @FAST
    @given(st.binary(max_size=500), st.sampled_from(["utf-8", "latin-1", "x-bogus", "", "utf-16"]))
    def test_decode_text_always_returns_text(self, data: bytes, label: str) -> None:
        """Any bytes under any label decode to text without NUL."""
        decoded = decode_text(data, label or None)
        assert isinstance(decoded.text, str) and "\x00" not in decoded.text


class TestReadsBack:
    @FAST
    @given(emails())
    def test_subject_body_and_order_ids_survive(
        self, email: tuple[bytes, str, str, list[str]]
    ) -> None:
        """Whatever the charset, transfer encoding and MIME shape: the subject comes back
        exactly, the body's words are in the text, and every order id is found."""
        raw, subject, body, ids = email
        parsed = parse_email(raw, order_id_patterns=PATTERNS)
        assert squash(parsed.subject) == squash(subject)
        assert squash(body) in squash(parsed.text)
        assert set(parsed.order_ids) == set(ids)
        assert parsed.sender is not None and parsed.sender.address == "asha@gmail.com"

    @FAST
    @given(printable)
    def test_rfc2047_round_trip(self, text: str) -> None:
        """Any text encoded as RFC 2047 words decodes to itself (whitespace normalised)."""
        assert decode_value(Header(text, "utf-8").encode()) == squash(text)


class TestSplitting:
    @FAST
    @given(
        paragraph,
        st.lists(line, max_size=4),
        st.booleans(),
        st.sampled_from(["", "Thanks,\nAsha", "-- \nAsha Rao\n+91 98000 00001"]),
    )
    def test_no_line_is_lost(
        self, new: str, quoted: list[str], header: bool, signature: str
    ) -> None:
        """Every line of a reply ends in exactly one of author, quoted, signature, forwarded;
        the author's own lines always stay in the author text."""
        parts = [new]
        if signature:
            parts.append(signature)
        if quoted:
            if header:
                parts.append("On Mon, 1 Dec 2026 at 10:00, Kapas <s@k.example> wrote:")
            parts.append("\n".join("> " + q for q in quoted))
        body = "\n\n".join(parts)
        split = split_body(body, subject="Re: order")
        given_lines = [x.strip() for x in body.splitlines() if x.strip()]
        out = "\n".join([split.author, split.quoted, split.signature, split.forwarded])
        got_lines = [x.strip() for x in out.splitlines() if x.strip()]
        assert sorted(got_lines) == sorted(given_lines)
        assert squash(new) in squash(split.author)


class TestHtml:
    @FAST
    @given(
        st.lists(st.tuples(st.booleans(), st.sampled_from(["div", "p", "span", "td"])), max_size=12)
    )
    def test_hidden_never_visible_always(self, elements: list[tuple[bool, str]]) -> None:
        """Text in hidden elements never comes out; text in visible ones always does."""
        html, visible, hidden = "", [], []
        for index, (is_hidden, tag) in enumerate(elements):
            token = f"tok{index}x"
            style = " style='display:none'" if is_hidden else ""
            html += f"<{tag}{style}>{token}</{tag}>"
            (hidden if is_hidden else visible).append(token)
        text = html_to_text(f"<table><tr>{html}</tr></table>")
        assert all(token in text for token in visible)
        assert not any(token in text for token in hidden)


class TestPatterns:
    @FAST
    @given(st.lists(order_id, min_size=1, max_size=5), paragraph)
    def test_inserted_order_ids_are_found(self, ids: list[str], text: str) -> None:
        """Order ids sprinkled into any text are all found, in order of appearance."""
        words = text.split()
        for index, value in enumerate(ids):
            words.insert(min(index * 3, len(words)), value)
        found = find_order_ids(" ".join(words), PATTERNS)
        assert found == list(dict.fromkeys(ids))
