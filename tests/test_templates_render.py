"""render_message, the API the channels call: fallbacks, email HTML, errors; on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import brand_rows
from tidings.config import BrandsFile
from tidings.errors import TemplateError
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind, TemplateStatus
from tidings.store.models import Template, TemplateVersion
from tidings.templates import store
from tidings.templates.bundled import load_bundled
from tidings.templates.html import text_to_html
from tidings.templates.render import render_message
from tidings.templates.samples import sample_variables
from tidings.templates.store import TemplateKey

TEST_COPY = Path(__file__).resolve().parent / "data" / "templates"


@pytest.fixture
def loaded(sessions: SessionFactory, brands: BrandsFile) -> SessionFactory:
    """The demo brands and the tests' default English copy, published."""
    with transaction(sessions) as session:
        brand_rows(session, brands)
        load_bundled(session=session, brands=brands, directory=TEST_COPY)
    return sessions


def publish(sessions: SessionFactory, template_key: TemplateKey, body: str) -> None:
    """Save and publish one template."""
    with transaction(sessions) as session:
        saved = store.save_draft(
            session=session,
            key=template_key,
            body=body,
            subject="S {{ order.number }}" if template_key.channel is ChannelKind.EMAIL else None,
            author="brand-manager",
        )
        store.publish(session=session, key=template_key, version=saved.version.version)


def send(
    sessions: SessionFactory,
    brands: BrandsFile,
    *,
    brand: str = "kapas",
    language: str = "hi",
    channel: ChannelKind = ChannelKind.SMS,
    event: str = "shipped",
):  # type: ignore[no-untyped-def]
    """Render as the dispatcher does, with sample variables minus the brand section."""
    variables = sample_variables(event, language, channel=channel)
    del variables["brand"]  # render_message fills it from the brands file
    with transaction(sessions) as session:
        return render_message(
            session=session,
            brand=brands.get(brand),
            event=event,
            channel=channel,
            language=language,
            time_zone="Asia/Kolkata",
            variables=variables,
        )


class TestFallbackChain:
    def test_brand_template_in_the_customers_language_wins(
        self, loaded: SessionFactory, brands: BrandsFile
    ) -> None:
        """kapas/hi is used for a Hindi-speaking kapas customer."""
        publish(
            loaded,
            TemplateKey(brand="kapas", event="shipped", channel=ChannelKind.SMS, language="hi"),
            "नमस्ते {{ customer.first_name }}, {{ order.number }} भेज दिया गया। {{ brand.name }}",
        )
        message = send(loaded, brands)
        assert message.language == "hi"
        assert message.text == "नमस्ते रोहित, TDS-100234 भेज दिया गया। Kapas & Co."
        assert message.subject is None and message.html is None
        assert message.template_version_id is not None

    def test_brand_default_language_comes_before_the_default_copy(
        self, loaded: SessionFactory, brands: BrandsFile
    ) -> None:
        """No kapas/hi: the brand's own English beats the neutral default."""
        publish(
            loaded,
            TemplateKey(brand="kapas", event="shipped", channel=ChannelKind.SMS, language="en"),
            "Yay {{ customer.first_name }}! {{ order.number }} is on its way.",
        )
        message = send(loaded, brands)
        assert (message.language, message.text) == ("en", "Yay रोहित! TDS-100234 is on its way.")

    def test_default_copy_in_english_is_the_last_resort(
        self, loaded: SessionFactory, brands: BrandsFile
    ) -> None:
        """Nothing for kapas and no Hindi default: default English."""
        message = send(loaded, brands)
        assert message.language == "en"
        assert message.text.startswith("Hi रोहित, order TDS-100234 has shipped.")

    def test_a_template_that_fails_falls_through(
        self, loaded: SessionFactory, brands: BrandsFile
    ) -> None:
        """A published template that fails at send time is skipped for the next one."""
        with transaction(loaded) as session:
            rows = brand_rows(session, brands)
            slot = Template(
                brand_id=rows["kapas"].id, event="shipped", channel=ChannelKind.SMS, language="hi"
            )
            session.add(slot)
            session.flush()
            session.add(
                TemplateVersion(
                    template_id=slot.id,
                    version=1,
                    status=TemplateStatus.PUBLISHED,
                    body="{{ delay.reason }}",  # delay is not part of shipped messages
                    author="x",
                )
            )
        message = send(loaded, brands)
        assert message.language == "en" and "has shipped" in message.text

    def test_nothing_published_names_the_fix(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """With no template at all, the error says to load the bundled copy."""
        with transaction(sessions) as session:
            brand_rows(session, brands)
        with pytest.raises(TemplateError, match="tidings templates load"):
            send(sessions, brands)

    def test_bad_variables_name_the_field(self, loaded: SessionFactory, brands: BrandsFile) -> None:
        """A caller's malformed variables fail with the field's path."""
        variables = sample_variables("shipped", "en")
        variables["order"]["total"] = {"amount": "lots", "currency": "INR"}
        with transaction(loaded) as session, pytest.raises(TemplateError, match=r"order\.total"):
            render_message(
                session=session,
                brand=brands.get("kapas"),
                event="shipped",
                channel=ChannelKind.SMS,
                language="en",
                time_zone="Asia/Kolkata",
                variables=variables,
            )


class TestEmail:
    def test_email_has_subject_text_and_html(
        self, loaded: SessionFactory, brands: BrandsFile
    ) -> None:
        """The HTML part is the text in the brand's layout, with its links clickable."""
        message = send(loaded, brands, brand="seri", language="en", channel=ChannelKind.EMAIL)
        assert message.subject == "Order TDS-100234 is on its way"
        assert "Track it: https://track.shop.example/p/DL7730142296IN" in message.text
        html = message.html or ""
        assert '<a href="https://track.shop.example/p/DL7730142296IN"' in html
        assert "Seri Beauty" in html and "#be185d" in html  # brand name and accent colour
        assert "<p " in html and "<br>" in html
        assert "https://shop.example/unsubscribe/7f3a9c" in html
        assert "Cotton tote bag and Ceramic mug" in html


class TestTextToHtml:
    def test_text_is_escaped_and_links_made_clickable(self) -> None:
        """Markup in the text is shown, not run; https links become anchors."""
        html = str(
            text_to_html("Hi <script>x</script> & co\nSee https://a.example/x?y=1&z=2.\n\nBye")
        )
        assert "&lt;script&gt;" in html and "<script>" not in html
        assert '<a href="https://a.example/x?y=1&amp;z=2" style="color:#3b5b7a;">' in html
        assert html.count("<p ") == 2 and "<br>" in html
        assert "z=2</a>." in html  # the sentence's full stop stays outside the link

    def test_http_links_stay_text(self) -> None:
        """Only https links are made clickable."""
        assert "<a" not in str(text_to_html("http://plain.example"))
