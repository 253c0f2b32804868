"""Babel filters in the four launch locales: dates, times in the customer's zone, money, plurals,
lists."""

from __future__ import annotations

from typing import Any

import pytest

from tidings.errors import TemplateError
from tidings.templates.render import render_source
from tidings.templates.samples import sample_variables


def render(source: str, language: str, *, time_zone: str = "Asia/Kolkata", **overrides: Any) -> str:
    """Render with sample variables, some of them overridden."""
    variables = sample_variables("delayed", language)
    for section, values in overrides.items():
        variables[section] = {**variables[section], **values}
    return render_source(source, language=language, time_zone=time_zone, variables=variables)


class TestDates:
    @pytest.mark.parametrize(
        ("language", "medium", "long", "weekday"),
        [
            ("en", "12 Dec 2026", "12 December 2026", "Saturday"),
            ("hi", "12 दिस॰ 2026", "12 दिसंबर 2026", "शनिवार"),
            ("id", "12 Des 2026", "12 Desember 2026", "Sabtu"),
            ("ms", "12 Dis 2026", "12 Disember 2026", "Sabtu"),
        ],
    )
    def test_date_styles_and_weekday(
        self, language: str, medium: str, long: str, weekday: str
    ) -> None:
        """date, date("long") and weekday follow the locale."""
        text = render(
            "{{ shipment.eta|date }}|{{ shipment.eta|date('long') }}|{{ shipment.eta|weekday }}",
            language,
        )
        assert text == f"{medium}|{long}|{weekday}"

    def test_unknown_style_is_refused(self) -> None:
        """Only the four CLDR styles are accepted."""
        with pytest.raises(TemplateError, match="date style must be one of"):
            render("{{ shipment.eta|date('yyyy') }}", "en")

    def test_empty_date_asks_for_a_guard(self) -> None:
        """A none date says to wrap it in an if."""
        with pytest.raises(TemplateError, match=r"wrap it in \{% if"):
            render("{{ shipment.eta|date }}", "en", shipment={"eta": None})


class TestTimes:
    @pytest.mark.parametrize(
        ("language", "time_zone", "expected"),
        [
            ("en", "Asia/Kolkata", "8 Dec 2026, 10:30:00 am|10:30 am"),
            ("hi", "Asia/Kolkata", "8 दिस॰ 2026, 10:30:00 am|10:30 am"),
            ("id", "Asia/Jakarta", "8 Des 2026 12.00.00|12.00"),
            ("ms", "Asia/Kuala_Lumpur", "8 Dis 2026, 1:00:00 PTG|1:00 PTG"),
        ],
    )
    def test_datetime_and_time_in_the_customers_zone(
        self, language: str, time_zone: str, expected: str
    ) -> None:
        """05:00 UTC shows as local time: 10:30 in India, 12:00 in Jakarta, 13:00 in KL."""
        text = render(
            "{{ order.placed_at|datetime }}|{{ order.placed_at|time }}",
            language,
            time_zone=time_zone,
        )
        assert text == expected

    def test_date_of_a_datetime_uses_the_customers_day(self) -> None:
        """23:30 UTC on the 8th is already the 9th in Kolkata."""
        text = render(
            "{{ order.placed_at|date }}",
            "en",
            order={"placed_at": "2026-12-08T23:30:00+00:00"},
        )
        assert text == "9 Dec 2026"

    def test_unknown_time_zone_is_refused_with_the_fix(self) -> None:
        """A bad zone name says which names work."""
        with pytest.raises(TemplateError, match="IANA name"):
            render("{{ order.placed_at|time }}", "en", time_zone="India/Mumbai")


class TestMoney:
    @pytest.mark.parametrize(
        ("language", "amount", "currency", "expected"),
        [
            ("en", "1499.00", "INR", "₹1,499.00"),
            ("en", "149900", "INR", "₹1,49,900.00"),
            ("hi", "1499.00", "INR", "₹1,499.00"),
            ("ms", "89.00", "MYR", "RM89.00"),
            ("ms", "89.50", "MYR", "RM89.50"),
            ("id", "307000", "IDR", "Rp307.000"),
            ("id", "307000.50", "IDR", "Rp307.000,50"),
        ],
    )
    def test_money_in_the_locale(
        self, language: str, amount: str, currency: str, expected: str
    ) -> None:
        """Amounts use the locale's grouping and symbol; whole rupiah drop the decimals."""
        text = render(
            "{{ order.total|money }}",
            language,
            order={"total": {"amount": amount, "currency": currency}},
        )
        assert text == expected

    def test_minor_units_are_accepted(self) -> None:
        """Callers may pass amounts in paise or sen."""
        text = render(
            "{{ order.total|money }}", "en", order={"total": {"minor": 149900, "currency": "INR"}}
        )
        assert text == "₹1,499.00"

    def test_rupiah_in_sen_keeps_its_decimals(self) -> None:
        """Minor units follow ISO 4217 (100 sen to the rupiah), not CLDR's display digits."""
        text = render(
            "{{ order.total|money }}", "id", order={"total": {"minor": 30700050, "currency": "IDR"}}
        )
        assert text == "Rp307.000,50"

    def test_money_needs_an_amount(self) -> None:
        """money on text says what it needs."""
        with pytest.raises(TemplateError, match="money needs an amount"):
            render("{{ order.number|money }}", "en")


class TestPlural:
    @pytest.mark.parametrize(
        ("language", "counts", "expected"),
        [
            ("en", (0, 1, 2), ["0 items", "1 item", "2 items"]),
            # CLDR Hindi: 0 and 1 take the "one" form.
            ("hi", (0, 1, 2), ["0 वस्तु", "1 वस्तु", "2 वस्तुएँ"]),
            # Indonesian and Malay have one form: the second string is always used.
            ("id", (0, 1, 2), ["0 barang", "1 barang", "2 barang"]),
            ("ms", (0, 1, 2), ["0 item", "1 item", "2 item"]),
        ],
    )
    def test_cldr_rule_picks_the_form(
        self, language: str, counts: tuple[int, ...], expected: list[str]
    ) -> None:
        """The locale's plural rule chooses between the two strings."""
        forms = {
            "en": ("{n} item", "{n} items"),
            "hi": ("{n} वस्तु", "{n} वस्तुएँ"),
            "id": ("{n} barang", "{n} barang"),
            "ms": ("{n} item", "{n} item"),
        }[language]
        texts = [
            render(
                f"{{{{ order.item_count|plural('{forms[0]}', '{forms[1]}') }}}}",
                language,
                order={"item_count": count},
            )
            for count in counts
        ]
        assert texts == expected

    def test_large_numbers_are_grouped(self) -> None:
        """{n} is formatted in the locale: 1,200 in English, 1.200 in Indonesian."""
        assert render("{{ 1200|plural('{n} x', '{n} xs') }}", "en") == "1,200 xs"
        assert render("{{ 1200|plural('{n} x', '{n} x') }}", "id") == "1.200 x"


class TestJoinNames:
    @pytest.mark.parametrize(
        ("language", "three", "two"),
        [
            ("en", "A, B and C", "A and B"),
            ("hi", "A, B और C", "A और B"),
            ("id", "A, B, dan C", "A dan B"),
            ("ms", "A, B dan C", "A dan B"),
        ],
    )
    def test_lists_read_naturally(self, language: str, three: str, two: str) -> None:
        """join_names uses the locale's list pattern."""
        assert render("{{ ['A', 'B', 'C']|join_names }}", language) == three
        assert render("{{ ['A', 'B']|join_names }}", language) == two

    def test_order_items_join_by_name(self) -> None:
        """order.items are joined by their names."""
        assert render("{{ order.items|join_names }}", "en") == "Cotton tote bag and Ceramic mug"


class TestHouseFormats:
    """What customers see is pinned, whatever CLDR version Babel ships (2.17 and 2.19 differ)."""

    @pytest.mark.parametrize(
        ("language", "expected"),
        [
            ("en", "12/12/26|Saturday, 12 December 2026|10:30 am|10:30:00 am"),
            ("hi", "12/12/26|शनिवार, 12 दिसंबर 2026|10:30 am|10:30:00 am"),
            ("id", "12/12/26|Sabtu, 12 Desember 2026|12.00|12.00.00"),
            ("ms", "12/12/26|Sabtu, 12 Disember 2026|1:00 PTG|1:00:00 PTG"),
        ],
    )
    def test_short_and_full_dates_and_times(self, language: str, expected: str) -> None:
        """Short and full dates, and times with the house's am/pm words, in every language."""
        zone = {"id": "Asia/Jakarta", "ms": "Asia/Kuala_Lumpur"}.get(language, "Asia/Kolkata")
        text = render(
            "{{ shipment.eta|date('short') }}|{{ shipment.eta|date('full') }}"
            "|{{ order.placed_at|time }}|{{ order.placed_at|time('medium') }}",
            language,
            time_zone=zone,
        )
        assert text == expected

    def test_whatsapp_variables_print_money_like_templates(self) -> None:
        """A WhatsApp template variable in sen keeps the rupiah's decimals, as a template would."""
        from tidings.channels.whatsapp import format_value

        idr = {"minor": 30700050, "currency": "IDR"}
        whole = {"minor": 30700000, "currency": "IDR"}
        assert format_value(idr, language="id", time_zone="Asia/Jakarta") == "Rp307.000,50"
        assert format_value(whole, language="id", time_zone="Asia/Jakarta") == "Rp307.000"
        assert format_value("2026-12-12", language="en", time_zone="UTC") == "12 Dec 2026"
