"""Validation on save: syntax, unknown variables, sample renders, channel limits, links, HTML."""

from __future__ import annotations

import pytest

from tidings.config import BrandsFile
from tidings.store.enums import ChannelKind
from tidings.templates.check import check_bundled
from tidings.templates.limits import sms_size
from tidings.templates.validate import Issue, validate_template

SMS, WHATSAPP, EMAIL = ChannelKind.SMS, ChannelKind.WHATSAPP, ChannelKind.EMAIL


def issues(
    body: str,
    *,
    event: str = "shipped",
    channel: ChannelKind = SMS,
    language: str = "en",
    subject: str | None = None,
) -> list[Issue]:
    """The validator's issues for one template."""
    return validate_template(
        event=event, channel=channel, language=language, body=body, subject=subject
    )


def messages(body: str, **kwargs: object) -> list[str]:
    """The issues as the editor shows them."""
    return [str(issue) for issue in issues(body, **kwargs)]  # type: ignore[arg-type]


class TestVariables:
    def test_typos_are_found_with_line_and_suggestion(self) -> None:
        """Unknown fields name the line and the nearest real variable."""
        found = issues(
            "Hi {{ customer.first_name }}\nTotal {{ order.totl|money }}\n{{ cutomer.name }}"
        )
        assert [(i.line, i.message) for i in found] == [
            (2, "order.totl is not a variable; did you mean order.total?"),
            (
                3,
                "cutomer is not a variable; did you mean customer? (the variables are: customer, "
                "brand, order, shipment, links, delay, address, reschedule, attempt, customs, "
                "backorder, partial, cancellation, case)",
            ),
        ]

    def test_loop_variables_are_checked_against_the_items(self) -> None:
        """item.nme inside a loop over order.items is caught."""
        found = issues("{% for item in order.items %}{{ item.nme }}{% endfor %}")
        assert found[0].message == "item.nme is not a variable; did you mean item.name?"

    def test_set_and_loop_names_are_known(self) -> None:
        """Names the template defines itself are not reported."""
        assert (
            issues(
                "{% set who = customer.first_name %}{{ who }} "
                "{% for day in [shipment.eta] %}{{ loop.index }}{% endfor %}"
            )
            == []
        )

    def test_leaf_values_explain_how_to_print_them(self) -> None:
        """Fields of a list, a date or an amount explain the filter to use."""
        found = messages("{{ order.items.name }} {{ order.total.value }} {{ shipment.eta.foo }}")
        assert any("order.items is a list" in m for m in found)
        assert any("order.total is an amount: print it with | money" in m for m in found)
        assert any("shipment.eta is a date" in m for m in found)

    def test_section_of_another_event_is_explained(self) -> None:
        """delay.* in a shipped template says which event it belongs to."""
        found = issues("Late: {{ delay.new_eta|date }}", event="shipped")
        assert found[0].message.startswith("delay is not part of shipped messages")
        assert "it comes with delayed" in found[0].message
        assert issues("{% if delay is defined %}{{ delay.reason }}{% endif %}ok") == []


class TestRenders:
    def test_unguarded_optional_value_is_caught(self) -> None:
        """An ETA that may be none must sit inside an if."""
        found = issues("ETA {{ shipment.eta|date }}")
        assert len(found) == 1 and "when optional values are empty" in found[0].message
        assert issues("{% if shipment.eta %}ETA {{ shipment.eta|date }}{% endif %}ok") == []

    def test_printing_a_none_value_is_caught(self) -> None:
        """{{ reschedule.slot }} would print 'None' when there is no slot."""
        found = issues("Slot: {{ reschedule.slot }}", event="reschedule_confirmed")
        assert found and "wrap it in {% if" in found[0].message

    def test_syntax_errors_name_the_line(self) -> None:
        """A broken tag reports its line."""
        found = issues("Hi\n{% if customer.name %}\nno end")
        assert found[0].line is not None and "syntax error" in found[0].message

    def test_refused_constructs_are_errors(self) -> None:
        """Sandbox refusals surface at save time, not at send time."""
        assert "not allowed" in issues("{% include 'x' %}")[0].message


class TestLimits:
    @pytest.mark.parametrize(
        ("text", "encoding", "segments"),
        [
            ("a" * 160, "GSM-7", 1),
            ("a" * 161, "GSM-7", 2),
            ("a" * 306, "GSM-7", 2),
            ("a" * 307, "GSM-7", 3),
            ("€" * 80, "GSM-7", 1),  # extension characters take two septets
            ("€" * 81, "GSM-7", 2),
            ("न" * 70, "UCS-2", 1),
            ("न" * 71, "UCS-2", 2),
            ("😊" * 35, "UCS-2", 1),  # an emoji is two UTF-16 units
            ("😊" * 36, "UCS-2", 2),
            ("Don’t" + "a" * 60, "UCS-2", 1),
        ],
    )
    def test_sms_segments(self, text: str, encoding: str, segments: int) -> None:
        """Segments count as carriers bill them: 160/153 GSM-7, 70/67 UCS-2."""
        size = sms_size(text)
        assert (size.encoding, size.segments) == (encoding, segments)

    def test_sms_over_three_segments_is_refused(self) -> None:
        """A fourth segment is an error that says how much to cut."""
        found = messages("{{ customer.name }} " + "word " * 100)
        assert any("SMS takes 4 segments" in m and "shorten it by" in m for m in found)

    def test_hindi_sms_counts_ucs2(self) -> None:
        """Hindi text makes the SMS UCS-2, and the message says why."""
        found = messages("नमस्ते " * 40, language="hi")
        assert any("UCS-2" in m for m in found)

    def test_whatsapp_length(self) -> None:
        """WhatsApp messages stop at 1,024 characters."""
        ok = "{{ customer.name }} " + "x" * 900
        assert issues(ok, channel=WHATSAPP) == []
        found = messages("{{ customer.name }} " + "x" * 1100, channel=WHATSAPP)
        assert any("limit is 1,024" in m for m in found)

    def test_email_subject(self) -> None:
        """An email needs a one-line subject of at most 120 characters."""
        assert "needs a subject" in messages("Hi", channel=EMAIL)[0]
        long = messages("Hi", channel=EMAIL, subject="Order {{ order.number }} " + "x" * 130)
        assert any("subject" in m and "limit is 120" in m for m in long)
        assert issues("Hi", channel=EMAIL, subject="Order {{ order.number }}") == []

    def test_subject_only_for_email(self) -> None:
        """A subject on an SMS template is refused."""
        assert "only email templates have a subject" in messages("Hi", subject="x")[0]


class TestLinksAndHtml:
    def test_http_links_are_refused_with_the_fix(self) -> None:
        """Links must be https; the message shows the https form."""
        found = issues("Hi\nSee http://shop.example/help")
        assert found[0].line == 2
        assert "write https://shop.example/help" in found[0].message

    def test_raw_html_is_refused(self) -> None:
        """Text bodies are plain text: tags are refused."""
        found = messages("<b>Hi</b> {{ customer.name }}", channel=EMAIL, subject="Hi")
        assert any("raw HTML <b>" in m for m in found)

    def test_comparisons_are_not_mistaken_for_html(self) -> None:
        """{% if a < b %} is not a tag."""
        assert issues("{% if order.item_count < 3 %}few{% endif %}ok") == []


def test_bundled_copy_is_valid_and_complete(brands: BrandsFile) -> None:
    """Every bundled template validates, and every brand combination has one on its chain."""
    report = check_bundled(brands=brands)
    assert report.invalid == {}
    assert report.missing == []
