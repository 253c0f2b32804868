"""Tracking updates: AfterShip and EasyPost signatures and mappings, and one history per parcel
(replays, out-of-order updates, a delivered parcel that stays delivered)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import brand_rows
from tests.wismo_support import NOON_IST, aftership_body, easypost_body, parcel
from tidings.config import BrandsFile
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ShipmentStatus
from tidings.store.models import Shipment, ShipmentUpdate, TrackingEvent
from tidings.wismo import aftership, easypost
from tidings.wismo.events import Checkpoint, TrackingUpdate, ingest

S = ShipmentStatus


class TestAfterShip:
    def test_signature_is_base64_hmac_sha256_of_the_body(self) -> None:
        """The header AfterShip documents: base64(HMAC-SHA256(secret, raw body))."""
        body = aftership_body("T1", tag="InTransit")
        expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
        assert aftership.verify(body, expected, "s3cret")
        assert not aftership.verify(body, expected, "other")
        assert not aftership.verify(body + b" ", expected, "s3cret")
        assert not aftership.verify(body, "", "s3cret") and not aftership.verify(body, expected, "")

    @pytest.mark.parametrize(
        ("tag", "subtag", "status", "delayed"),
        [
            ("Pending", "Pending_001", S.LABEL_CREATED, False),
            ("InfoReceived", "InfoReceived_001", S.LABEL_CREATED, False),
            ("InTransit", "InTransit_007", S.IN_TRANSIT, False),
            ("OutForDelivery", "OutForDelivery_001", S.OUT_FOR_DELIVERY, False),
            ("AvailableForPickup", "AvailableForPickup_001", S.OUT_FOR_DELIVERY, False),
            ("AttemptFail", "AttemptFail_001", S.FAILED_ATTEMPT, False),
            ("Delivered", "Delivered_001", S.DELIVERED, False),
            ("Exception", "Exception_004", S.HELD_CUSTOMS, False),
            ("Exception", "Exception_005", S.IN_TRANSIT, True),
            ("Exception", "Exception_006", S.HELD_CUSTOMS, False),
            ("Exception", "Exception_007", S.EXCEPTION, False),
            ("Exception", "Exception_011", S.RETURNED, False),
            ("Exception", "Exception_013", S.EXCEPTION, False),
            ("Exception", "Exception_017", S.IN_TRANSIT, True),
            ("Expired", "Expired_001", S.EXCEPTION, False),
        ],
    )
    def test_statuses_map(
        self, tag: str, subtag: str, status: ShipmentStatus, delayed: bool
    ) -> None:
        """Each documented tag, and the exception sub-statuses that mean customs, a delay or a
        return, become one Tidings status (docs/wismo.md has the table)."""
        update = aftership.parse(aftership_body("T1", tag=tag, subtag=subtag))
        assert (update.status, update.delay) == (status, delayed)

    def test_estimates_time_and_checkpoints(self) -> None:
        """The courier's EDD is the ETA, AfterShip's AI EDD the prediction; the event time is
        ``ts``; a checkpoint without an offset takes AfterShip's UTC ``created_at``."""
        body = json.loads(
            aftership_body(
                "2384710096523",
                tag="InTransit",
                courier_eta="2026-12-05T18:00:00",
                predicted_eta="2026-12-06",
                event_id="9d2c6f0e",
            )
        )
        body["msg"]["checkpoints"][0]["checkpoint_time"] = "2026-12-02T11:00:00"  # local, no zone
        update = aftership.parse(json.dumps(body).encode())
        assert update.event_id == "9d2c6f0e" and update.tracking_number == "2384710096523"
        assert (update.eta, update.predicted_eta) == (date(2026, 12, 5), date(2026, 12, 6))
        assert update.occurred_at == NOON_IST
        assert update.checkpoints[0].occurred_at == NOON_IST  # created_at, not a guessed zone
        assert update.carrier == "delhivery" and update.source == "aftership"

    @pytest.mark.parametrize(
        "body",
        [b"not json", b"[]", b'{"event": "tracking_update", "msg": {}}', b"[" * 50 + b"]" * 50],
    )
    def test_bodies_that_are_not_a_tracking_webhook_are_refused(self, body: bytes) -> None:
        """Anything AfterShip would not send is a ValueError naming what is wrong."""
        with pytest.raises(ValueError, match="AfterShip"):
            aftership.parse(body)


class TestEasyPost:
    def test_signature_is_prefixed_hex_hmac_with_the_secret_nfkd_normalised(self) -> None:
        """``hmac-sha256-hex=`` + hex HMAC-SHA256 of the raw body, the secret NFKD-normalised
        (as EasyPost's own validate_webhook does)."""
        body = easypost_body("T1", status="in_transit")
        secret = "ｓｅｃｒｅｔ"  # full-width letters: NFKD makes them "secret"
        expected = "hmac-sha256-hex=" + hmac.new(b"secret", body, hashlib.sha256).hexdigest()
        assert easypost.sign(body, secret) == expected
        assert easypost.verify(body, expected, secret)
        assert not easypost.verify(body, expected.replace("=", "=0", 1), secret)
        assert not easypost.verify(b"{}", expected, secret)

    @pytest.mark.parametrize(
        ("status", "detail", "expected", "delayed"),
        [
            ("pre_transit", "label_created", S.LABEL_CREATED, False),
            ("in_transit", "arrived_at_facility", S.IN_TRANSIT, False),
            ("in_transit", "weather_delay", S.IN_TRANSIT, True),
            ("in_transit", "missorted", S.IN_TRANSIT, True),
            ("out_for_delivery", "out_for_delivery", S.OUT_FOR_DELIVERY, False),
            ("available_for_pickup", "arrived_at_pickup_location", S.OUT_FOR_DELIVERY, False),
            ("delivered", "arrived_at_destination", S.DELIVERED, False),
            ("return_to_sender", "return", S.RETURNED, False),
            ("failure", "delivery_exception", S.FAILED_ATTEMPT, False),
            ("failure", "lost", S.EXCEPTION, False),
            ("in_transit", "held_by_customs", S.HELD_CUSTOMS, False),
            ("cancelled", "cancelled", S.EXCEPTION, False),
            ("unknown", "unknown", None, False),
        ],
    )
    def test_statuses_map(
        self, status: str, detail: str, expected: ShipmentStatus | None, delayed: bool
    ) -> None:
        """Each tracker status (refined by its detail) becomes one Tidings status."""
        update = easypost.parse(easypost_body("T1", status=status, detail=detail))
        assert update is not None
        assert (update.status, update.delay) == (expected, delayed)

    def test_other_events_are_ignored_and_the_eta_is_read(self) -> None:
        """A batch or shipment event is not about tracking; a tracker's ETA is its day."""
        other = easypost_body("T1", status="in_transit", description="batch.updated")
        assert easypost.parse(other) is None
        update = easypost.parse(
            easypost_body("T1", status="in_transit", est_delivery="2026-12-07T14:00:00Z")
        )
        assert update is not None and update.eta == date(2026, 12, 7)
        assert update.event_id == "evt_1" and update.occurred_at == NOON_IST


def _update(tracking: str, at: datetime, **fields: object) -> TrackingUpdate:
    status = fields.pop("status", S.IN_TRANSIT)
    return TrackingUpdate(
        source="aftership",
        event_id=str(fields.pop("event_id", f"e-{at.isoformat()}")),
        tracking_number=tracking,
        occurred_at=at,
        status=status,  # type: ignore[arg-type]
        code="x",
        checkpoints=[Checkpoint(occurred_at=at, status=status, code=f"c-{at:%H%M}")],  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


class TestIngest:
    def test_a_replay_changes_nothing(self, sessions: SessionFactory, brands: BrandsFile) -> None:
        """The same event id twice: one update row, one scan in the history."""
        with transaction(sessions) as session:
            tracking = parcel(session, brand_rows(session, brands)["kapas"]).tracking_number
        update = _update(tracking, NOON_IST, event_id="same")
        outcomes = []
        for _ in range(2):
            with transaction(sessions) as session:
                outcomes.append(ingest(session=session, update=update).outcome)
        assert outcomes == ["applied", "duplicate"]
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(ShipmentUpdate)) == 1
            assert session.scalar(select(func.count()).select_from(TrackingEvent)) == 1

    def test_an_older_update_only_adds_to_the_history(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Out of order: the newer status stays; the older scan still joins the history."""
        with transaction(sessions) as session:
            tracking = parcel(session, brand_rows(session, brands)["kapas"]).tracking_number
        newer = _update(tracking, NOON_IST, status=S.OUT_FOR_DELIVERY, eta=date(2026, 12, 2))
        older = _update(tracking, NOON_IST - timedelta(hours=5), status=S.IN_TRANSIT)
        with transaction(sessions) as session:
            assert ingest(session=session, update=newer).outcome == "applied"
        with transaction(sessions) as session:
            assert ingest(session=session, update=older).outcome == "older"
        with sessions() as session:
            shipment = session.scalars(select(Shipment)).one()
            assert shipment.status is S.OUT_FOR_DELIVERY
            assert shipment.eta == date(2026, 12, 2)
            assert shipment.last_scan_at == NOON_IST  # the newest scan, whatever arrived last
            assert session.scalar(select(func.count()).select_from(TrackingEvent)) == 2

    def test_delivered_stays_delivered_and_a_delay_report_ends_with_delivery(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A transit scan after delivery does not undo it; the carrier's delay is over."""
        with transaction(sessions) as session:
            tracking = parcel(session, brand_rows(session, brands)["kapas"]).tracking_number
        steps = [
            _update(tracking, NOON_IST, delay=True),
            _update(tracking, NOON_IST + timedelta(hours=1), status=S.DELIVERED),
            _update(tracking, NOON_IST + timedelta(hours=2), status=S.IN_TRANSIT),
        ]
        for step in steps:
            with transaction(sessions) as session:
                ingest(session=session, update=step)
        with sessions() as session:
            shipment = session.scalars(select(Shipment)).one()
            assert shipment.status is S.DELIVERED
            assert shipment.delivered_at == NOON_IST + timedelta(hours=1)
            assert shipment.delay_reported_at is None

    def test_an_unknown_parcel_is_recorded_unmatched(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A tracking number no order has: kept (a replay is a duplicate), nothing else."""
        update = _update("NOSUCH000", datetime(2026, 12, 2, tzinfo=UTC))
        with transaction(sessions) as session:
            assert ingest(session=session, update=update).outcome == "unmatched"
        with transaction(sessions) as session:
            assert ingest(session=session, update=update).outcome == "duplicate"
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(TrackingEvent)) == 0
