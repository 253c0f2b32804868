"""The editor's view of the store on both databases: the default copy's matrix (own,
another language, missing), what a slot's customers get, and the variables a preview lists."""

from __future__ import annotations

import pytest

from tests.factories import brand_rows
from tidings.config import BrandsFile
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind
from tidings.templates import store
from tidings.templates.contract import EVENTS
from tidings.templates.matrix import effective, scope_matrix
from tidings.templates.preview import variable_hints
from tidings.templates.store import TemplateKey

EMAIL, SMS = ChannelKind.EMAIL, ChannelKind.SMS


def key(brand: str | None, language: str, channel: ChannelKind = SMS) -> TemplateKey:
    """A shipped slot."""
    return TemplateKey(brand=brand, event="shipped", channel=channel, language=language)


@pytest.fixture
def seeded(sessions: SessionFactory, brands: BrandsFile) -> SessionFactory:
    """The demo brands, the default copy's English shipped SMS published, a Hindi draft."""
    with transaction(sessions) as session:
        brand_rows(session, brands)
        text = "{{ customer.first_name }}, {{ order.number }} has shipped."
        saved = store.save_draft(session=session, key=key(None, "en"), body=text, author="t")
        store.publish(session=session, key=key(None, "en"), version=saved.version.version)
        store.save_draft(session=session, key=key(None, "hi"), body="नमस्ते " + text, author="t")
    return sessions


def test_the_default_copys_matrix(seeded: SessionFactory) -> None:
    """Every language of the contract; Hindi falls back to English (its draft reaches no one),
    a channel with nothing is missing; no WhatsApp approvals for the default copy."""
    with transaction(seeded) as session:
        matrix = scope_matrix(session=session, slug=None)
    assert (matrix.brand, matrix.name, matrix.languages) == (
        "_default",
        "Default copy",
        ["en", "hi", "id", "ms"],
    )
    english = matrix.cell("shipped", "en", "sms")
    assert (english.state, english.published, english.source) == ("own", 1, "_default/en v1")
    hindi = matrix.cell("shipped", "hi", "sms")
    assert (hindi.state, hindi.draft, hindi.source_language) == ("untranslated", 1, "en")
    assert matrix.cell("shipped", "en", "email").state == "missing"
    counts = matrix.counts()
    assert counts["own"] == 1 and counts["untranslated"] == 3 and counts["drafts"] == 1
    assert counts["missing"] == len(EVENTS) * 4 * 3 - 4
    assert matrix.whatsapp_counts() == {"none": len(EVENTS) * 4}


def test_what_a_slot_gets_follows_the_fallback_chain(seeded: SessionFactory) -> None:
    """A brand without its own copy gets the default copy's; the default copy in Malay gets
    English."""
    with transaction(seeded) as session:
        seri = effective(session=session, key=key("seri", "ms"))
        malay = effective(session=session, key=key(None, "ms"))
        email = effective(session=session, key=key("seri", "ms", EMAIL))
    assert seri is not None and (seri.source, seri.language) == ("_default/en v1", "en")
    assert malay is not None and malay.source == "_default/en v1"
    assert email is None


def test_variable_hints_show_how_to_print_and_a_sample(brands: BrandsFile) -> None:
    """A delay message lists its delay section with the filter to print each kind; email alone
    has an unsubscribe link."""
    kapas = brands.get("kapas")
    hints = {h.name: h for h in variable_hints("delayed", "hi", brand=kapas, channel=SMS)}
    assert hints["delay.new_eta"].usage == "{{ delay.new_eta | date }}"
    assert hints["order.total"].usage == "{{ order.total | money }}"
    assert hints["customer.first_name"].sample == "रोहित"
    assert hints["brand.name"].sample == "Kapas & Co."
    assert "links.unsubscribe" not in hints
    email = variable_hints("delayed", "hi", brand=kapas, channel=EMAIL)
    assert "links.unsubscribe" in {h.name for h in email}
