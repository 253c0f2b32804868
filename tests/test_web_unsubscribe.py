"""Unsubscribe links: opaque tokens that cannot be forged, and pages in the brand's look and the
customer's language, over real HTTP on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tests.channels_support import add_customer, make_dispatcher, notify
from tests.factories import brand_rows
from tests.http import loopback_client, serve_app
from tidings.channels.base import OutboundMessage, SendResult
from tidings.channels.compose import Links
from tidings.channels.consent import find_unsubscribe, unsubscribe_token
from tidings.config import BrandsFile, Settings
from tidings.config.settings import DEV_SECRET_KEY
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind
from tidings.store.models import BrandRow, CustomerConsent
from tidings.web.app import create_app


@pytest.fixture
def app_url(engine: Engine, tmp_path: Path) -> Iterator[str]:
    """The web app with the public development key, as a careless deployment would run it."""
    with serve_app(create_app(Settings(outbox_dir=tmp_path), engine=engine)) as url:
        yield url


def email_customer(
    sessions: SessionFactory, brands: BrandsFile, *, brand: str = "kapas", language: str = "en"
) -> tuple[int, str]:
    """A customer opted in to email, and their email unsubscribe token."""
    with transaction(sessions) as session:
        person = add_customer(
            session, brand_rows(session, brands)[brand], channels=("email",), language=language
        )
        token = unsubscribe_token(session=session, customer_id=person.id, channel=ChannelKind.EMAIL)
        return person.id, token


def email_consent(sessions: SessionFactory) -> CustomerConsent:
    """The one email consent row."""
    with sessions() as session:
        return session.scalars(
            select(CustomerConsent).where(CustomerConsent.channel == ChannelKind.EMAIL)
        ).one()


def old_style_token(secret: str, customer_id: int) -> str:
    """A link in the old ``id.channel.hmac`` form, signed the way it used to be."""
    payload = f"{customer_id}.email"
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:18]
    return f"{payload}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


class TestTokens:
    def test_tokens_are_random_and_stable(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """One opaque token per customer and channel, the same on every call, found again."""
        with transaction(sessions) as session:
            kapas = brand_rows(session, brands)["kapas"]
            first = add_customer(session, kapas, email="a@example.in")
            second = add_customer(session, kapas, email="b@example.in", phone="+919800000002")
            email = ChannelKind.EMAIL
            token = unsubscribe_token(session=session, customer_id=first.id, channel=email)
            again = unsubscribe_token(session=session, customer_id=first.id, channel=email)
            other = unsubscribe_token(session=session, customer_id=second.id, channel=email)
            sms = unsubscribe_token(session=session, customer_id=first.id, channel=ChannelKind.SMS)
        assert token == again and len({token, other, sms}) == 3
        assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", token)
        with sessions() as session:
            found = find_unsubscribe(session=session, token=token)
            assert found is not None and (found.customer_id, found.channel) == (first.id, email)
            assert find_unsubscribe(session=session, token=token[:-1]) is None

    def test_forged_and_old_links_are_404(
        self, app_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """An id.channel.hmac link signed with the public development key, a guessed token and
        an absurdly long one are 404, and nobody is unsubscribed."""
        person_id, _ = email_customer(sessions, brands)
        with loopback_client(app_url) as client:
            for token in (old_style_token(DEV_SECRET_KEY, person_id), "A" * 32, "a" * 600):
                assert client.get(f"/unsubscribe/{token}").status_code == 404
                assert client.post(f"/unsubscribe/{token}").status_code == 404
        assert email_consent(sessions).opted_in is True


class TestPages:
    @pytest.mark.parametrize(
        ("brand", "language", "accent", "name", "question", "done"),
        [
            ("kapas", "hi", "#c2410c", "Kapas &amp; Co.", "ईमेल पाना बंद", "अब आपको ईमेल नहीं"),
            ("seri", "ms", "#be185d", "Seri Beauty", "Berhenti menerima e-mel", "menghantar e-mel"),
            ("seri", "id", "#be185d", "Seri Beauty", "Berhenti menerima email", "mengirimi Anda"),
            ("griha", "en", "#2f4f4f", "Griha Home", "Stop emails from", "will not email you"),
        ],
    )
    def test_pages_in_the_brands_look_and_the_customers_language(
        self,
        app_url: str,
        sessions: SessionFactory,
        brands: BrandsFile,
        brand: str,
        language: str,
        accent: str,
        name: str,
        question: str,
        done: str,
    ) -> None:
        """GET asks, in the customer's language on the brand's colours, and changes nothing;
        POST opts out and says so in the same look."""
        _, token = email_customer(sessions, brands, brand=brand, language=language)
        with loopback_client(app_url) as client:
            page = client.get(f"/unsubscribe/{token}")
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            for expected in (f'<html lang="{language}"', accent, name, question, 'method="post"'):
                assert expected in page.text
            assert email_consent(sessions).opted_in is True
            result = client.post(f"/unsubscribe/{token}")
        assert result.status_code == 200
        for expected in (f'<html lang="{language}"', accent, name, done):
            assert expected in result.text
        consent = email_consent(sessions)
        assert consent.opted_in is False and consent.source == "unsubscribe link"

    def test_brand_names_are_escaped(
        self, app_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A brand name is text, never markup."""
        _, token = email_customer(sessions, brands)
        with transaction(sessions) as session:
            row = session.scalars(select(BrandRow).where(BrandRow.slug == "kapas")).one()
            row.name = "<script>alert(1)</script>"
        with loopback_client(app_url) as client:
            page = client.get(f"/unsubscribe/{token}").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page

    def test_one_click_post(
        self, app_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """RFC 8058: a mail client's List-Unsubscribe=One-Click POST opts out directly."""
        _, token = email_customer(sessions, brands)
        with loopback_client(app_url) as client:
            answer = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200 and email_consent(sessions).opted_in is False


class CapturingEmail:
    """An email channel that keeps what it is asked to send."""

    name, kind, idempotent, rate_per_second = "capture", ChannelKind.EMAIL, False, None

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> SendResult:
        """Keep the message; report a made-up id."""
        self.sent.append(message)
        return SendResult(provider="capture", provider_message_id=f"m{len(self.sent)}")

    def close(self) -> None:
        """Nothing to close."""


class TestDispatchedLinks:
    def test_emails_carry_one_opaque_link_that_works(
        self, engine: Engine, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """Two emails to one customer carry the same opaque link; posting to it opts out."""
        with transaction(sessions) as session:
            kapas = brand_rows(session, brands)["kapas"]
            person = add_customer(session, kapas, channels=("email",))
            notify(session, kapas, person, episode="1")
            notify(session, kapas, person, episode="2")
        channel = CapturingEmail()
        with serve_app(create_app(Settings(outbox_dir=tmp_path), engine=engine)) as url:
            dispatcher = make_dispatcher(
                sessions, brands, {ChannelKind.EMAIL: channel}, links=Links(public_url=url)
            )
            assert dispatcher.run_until_idle().counts == {"sent": 2}
            links = {message.unsubscribe_url for message in channel.sent}
            assert len(links) == 1
            link = links.pop()
            assert link is not None and re.fullmatch(
                re.escape(url) + r"/unsubscribe/[A-Za-z0-9_-]{32,}", link
            )
            with loopback_client(url) as client:
                assert client.post(link.removeprefix(url)).status_code == 200
        assert email_consent(sessions).opted_in is False
