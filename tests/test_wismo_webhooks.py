"""The aggregator webhooks over real HTTP on loopback: signed and idempotent; a forged or
unsigned request is refused and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, select

from tests.factories import brand_rows
from tests.http import loopback_client, serve_app
from tests.wismo_support import NOON_IST, aftership_body, easypost_body, parcel
from tidings.config import BrandsFile, Settings
from tidings.config.brands import Outreach
from tidings.errors import ConfigError
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ShipmentStatus
from tidings.store.models import Shipment, ShipmentUpdate, TrackingEvent
from tidings.web.app import create_app
from tidings.wismo import aftership, easypost

AFTERSHIP_SECRET = "aftership-webhook-secret-for-tests"
EASYPOST_SECRET = "easypost-webhook-secret-for-tests"


@pytest.fixture
def app_url(engine: Engine, tmp_path: Path) -> Iterator[str]:
    """The web app with both aggregators' webhook secrets."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        wismo={"aftership_secret": AFTERSHIP_SECRET, "easypost_secret": EASYPOST_SECRET},
        web={"secret_key": "x" * 40},
        outbox_dir=tmp_path,
    )
    with serve_app(create_app(settings, engine=engine)) as url:
        yield url


@pytest.fixture
def tracking(sessions: SessionFactory, brands: BrandsFile) -> str:
    """A parcel in transit."""
    with transaction(sessions) as session:
        return parcel(session, brand_rows(session, brands)["kapas"]).tracking_number


def post(base: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    with loopback_client(base) as client:
        response = client.post(
            path, content=body, headers={"Content-Type": "application/json", **headers}
        )
    return response.status_code, response.text


def aftership_post(base: str, body: bytes, secret: str = AFTERSHIP_SECRET) -> tuple[int, str]:
    return post(
        base, "/webhooks/aftership", body, {aftership.SIGNATURE: aftership.sign(body, secret)}
    )


def easypost_post(base: str, body: bytes, secret: str = EASYPOST_SECRET) -> tuple[int, str]:
    return post(base, "/webhooks/easypost", body, {easypost.SIGNATURE: easypost.sign(body, secret)})


def counts(sessions: SessionFactory) -> tuple[int, int, ShipmentStatus]:
    with sessions() as session:
        updates = session.scalar(select(func.count()).select_from(ShipmentUpdate)) or 0
        scans = session.scalar(select(func.count()).select_from(TrackingEvent)) or 0
        status = session.scalars(select(Shipment.status)).one()
    return updates, scans, status


class TestAfterShipWebhook:
    def test_a_signed_update_applies_once(
        self, app_url: str, sessions: SessionFactory, tracking: str
    ) -> None:
        """Signed: 200 and applied; the same event again: 200 duplicate, nothing new."""
        body = aftership_body(tracking, tag="AttemptFail", event_id="b7e1")
        assert aftership_post(app_url, body) == (200, '{"outcome":"applied"}')
        assert aftership_post(app_url, body) == (200, '{"outcome":"duplicate"}')
        assert counts(sessions) == (1, 1, ShipmentStatus.FAILED_ATTEMPT)

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {aftership.SIGNATURE: "bm90IGEgc2lnbmF0dXJl"},
            {aftership.SIGNATURE: aftership.sign(b"another body", AFTERSHIP_SECRET)},
        ],
    )
    def test_forged_or_unsigned_requests_are_refused_and_change_nothing(
        self, app_url: str, sessions: SessionFactory, tracking: str, headers: dict[str, str]
    ) -> None:
        """No signature, a made-up one, one for another body: 403, no row written."""
        body = aftership_body(tracking, tag="Delivered")
        status, _ = post(app_url, "/webhooks/aftership", body, headers)
        assert status == 403
        assert aftership_post(app_url, body, secret="a-guessed-secret")[0] == 403
        assert counts(sessions) == (0, 0, ShipmentStatus.IN_TRANSIT)

    def test_a_signed_body_that_is_not_a_webhook_is_400(
        self, app_url: str, sessions: SessionFactory, tracking: str
    ) -> None:
        """Signed but malformed (a leaked key, a bug): 400 with the reason, nothing stored."""
        status, text = aftership_post(app_url, b'{"event": "tracking_update"}')
        assert status == 400 and "event_id" in text
        assert counts(sessions) == (0, 0, ShipmentStatus.IN_TRANSIT)

    def test_out_of_order_updates_keep_the_newest_status(
        self, app_url: str, sessions: SessionFactory, tracking: str
    ) -> None:
        """Out for delivery at noon, then an in-transit scan from the morning arrives late."""
        later = aftership_body(tracking, tag="OutForDelivery", event_id="e2")
        earlier = aftership_body(
            tracking, tag="InTransit", event_id="e1", at=NOON_IST - timedelta(hours=4)
        )
        assert aftership_post(app_url, later)[1] == '{"outcome":"applied"}'
        assert aftership_post(app_url, earlier)[1] == '{"outcome":"older"}'
        assert counts(sessions) == (2, 2, ShipmentStatus.OUT_FOR_DELIVERY)


class TestEasyPostWebhook:
    def test_a_signed_tracker_event_applies_once(
        self, app_url: str, sessions: SessionFactory, tracking: str
    ) -> None:
        """Signed with the webhook secret: applied; replayed: duplicate."""
        body = easypost_body(tracking, status="out_for_delivery", detail="out_for_delivery")
        assert easypost_post(app_url, body) == (200, '{"outcome":"applied"}')
        assert easypost_post(app_url, body) == (200, '{"outcome":"duplicate"}')
        assert counts(sessions) == (1, 1, ShipmentStatus.OUT_FOR_DELIVERY)

    def test_forged_requests_are_refused_and_other_events_ignored(
        self, app_url: str, sessions: SessionFactory, tracking: str
    ) -> None:
        """A wrong secret: 403; a signed event about something else: 200 ignored."""
        body = easypost_body(tracking, status="delivered")
        assert easypost_post(app_url, body, secret="wrong")[0] == 403
        batch = easypost_body(tracking, status="delivered", description="batch.created")
        assert easypost_post(app_url, batch) == (200, '{"outcome":"ignored"}')
        assert counts(sessions) == (0, 0, ShipmentStatus.IN_TRANSIT)

    def test_without_a_configured_secret_everything_is_refused(
        self, engine: Engine, tmp_path: Path, sessions: SessionFactory, tracking: str
    ) -> None:
        """No secret set: 403 naming the variable to set, whatever the signature."""
        settings = Settings(_env_file=None, outbox_dir=tmp_path)  # type: ignore[call-arg]
        body = easypost_body(tracking, status="delivered")
        with serve_app(create_app(settings, engine=engine)) as url:
            status, text = easypost_post(url, body)
        assert status == 403 and "TIDINGS_WISMO__EASYPOST_SECRET" in text
        assert counts(sessions) == (0, 0, ShipmentStatus.IN_TRANSIT)


class TestConfiguration:
    def test_prod_refuses_a_placeholder_webhook_secret(self) -> None:
        """A copied example secret in prod is refused, naming the variable."""
        with pytest.raises(ConfigError, match="TIDINGS_WISMO__AFTERSHIP_SECRET"):
            Settings(
                _env_file=None,  # type: ignore[call-arg]
                mode="prod",
                web={"secret_key": "k" * 40},
                wismo={"aftership_secret": "change-me"},
            )

    def test_carrier_hours_and_outreach_are_checked(self) -> None:
        """A carrier zone that is not a zone, hours that end before they start, follow-up days
        out of order: each is refused with what is wrong."""
        with pytest.raises(ValidationError, match="IANA time zone"):
            Settings(_env_file=None, wismo={"carriers": {"jne": {"time_zone": "Jakarta"}}})  # type: ignore[call-arg]
        with pytest.raises(ValidationError, match="start before end"):
            Settings(_env_file=None, wismo={"start": "18:00", "end": "09:00"})  # type: ignore[call-arg]
        with pytest.raises(ValidationError, match="positive and increasing"):
            Outreach(follow_up_days=[5, 2])
