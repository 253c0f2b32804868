"""Carrier-looking tracking numbers and scan histories for the demo's parcels."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from tidings.store.enums import ShipmentStatus
from tidings.store.models import Shipment, TrackingEvent

# Tracking number shapes per carrier: (prefix, digits, suffix).
TRACKING_FORMATS = {
    "delhivery": ("", 13, ""),
    "bluedart": ("", 11, ""),
    "xpressbees": ("", 14, ""),
    "indiapost": ("EM", 9, "IN"),
    "jne": ("", 16, ""),
    "jnt_id": ("JP", 10, ""),
    "sicepat": ("00", 10, ""),
    "posmalaysia": ("EP", 9, "MY"),
    "ninjavan_my": ("NVMY", 10, ""),
    "jnt_my": ("63", 10, ""),
}

# The scans that end a parcel's history in each status: (code, description).
FINAL_SCANS: dict[ShipmentStatus, list[tuple[str, str]]] = {
    ShipmentStatus.IN_TRANSIT: [("DEP", "Departed from facility")],
    ShipmentStatus.OUT_FOR_DELIVERY: [("OFD", "Out for delivery")],
    ShipmentStatus.FAILED_ATTEMPT: [
        ("OFD", "Out for delivery"),
        ("NDR", "Delivery attempted - consignee not available"),
    ],
    ShipmentStatus.EXCEPTION: [("EXC", "Address incomplete - consignee address not found")],
    ShipmentStatus.HELD_CUSTOMS: [("CUS", "Held at customs - duty payment pending")],
    ShipmentStatus.DELIVERED: [("OFD", "Out for delivery"), ("DL", "Delivered")],
    ShipmentStatus.RETURNED: [("DL", "Delivered"), ("RTO", "Returned to origin")],
}


def tracking_number(rng: random.Random, carrier: str) -> str:
    """A tracking number in the carrier's usual shape."""
    prefix, digits, suffix = TRACKING_FORMATS.get(carrier, ("", 12, ""))
    return prefix + "".join(rng.choice("0123456789") for _ in range(digits)) + suffix


def build_events(
    rng: random.Random,
    shipment: Shipment,
    placed_at: datetime,
    now: datetime,
    origin: str,
    destination: str,
) -> list[TrackingEvent]:
    """A plausible scan history ending in the shipment's status, every scan in the past."""
    scans: list[tuple[str, str, str, ShipmentStatus]] = [
        ("MAN", "Shipment information received", origin, ShipmentStatus.LABEL_CREATED)
    ]
    if shipment.status is not ShipmentStatus.LABEL_CREATED:
        scans.append(("PU", "Picked up from seller", origin, ShipmentStatus.IN_TRANSIT))
        scans.append(("ARR", "Arrived at hub", f"{destination} hub", ShipmentStatus.IN_TRANSIT))
        late = shipment.promised_date is not None and shipment.promised_date < now.date()
        if late and shipment.status is ShipmentStatus.IN_TRANSIT:
            scans.append(
                (
                    "DLY",
                    "Delayed - network congestion",
                    f"{destination} hub",
                    ShipmentStatus.IN_TRANSIT,
                )
            )
        for code, text in FINAL_SCANS.get(shipment.status, []):
            scans.append((code, text, destination, _scan_status(code, shipment.status)))
    start = placed_at + timedelta(hours=rng.randint(2, 12))
    # Spread the scans between the label and a little before now, in order.
    span = max((now - timedelta(minutes=30)) - start, timedelta(minutes=len(scans)))
    step = span / len(scans)
    return [
        TrackingEvent(
            occurred_at=start + step * i,
            code=code,
            status=status,
            description=text,
            location=place,
        )
        for i, (code, text, place, status) in enumerate(scans)
    ]


def _scan_status(code: str, final: ShipmentStatus) -> ShipmentStatus:
    if code == "OFD":
        return ShipmentStatus.OUT_FOR_DELIVERY
    if code == "DL":
        return ShipmentStatus.DELIVERED
    return final
