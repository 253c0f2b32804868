"""Carriers as customers know them: the name to print and where to follow a parcel.

Order systems store a carrier code ("jnt_my", "bluedart"); messages need "J&T Express" and a
tracking link. A carrier this table does not know is named from its code, and its parcels are
followed on a universal tracking site, so a message never has an empty link.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import quote

UNIVERSAL = "https://parcelsapp.com/en/tracking/{number}"


class Carrier(NamedTuple):
    """A carrier's display name and tracking page."""

    name: str
    tracking: str


CARRIERS = {
    "delhivery": Carrier("Delhivery", "https://www.delhivery.com/track-v2/package/{number}"),
    "bluedart": Carrier(
        "Blue Dart",
        "https://www.bluedart.com/web/guest/trackdartresult?trackFor=0&trackNo={number}",
    ),
    "xpressbees": Carrier(
        "XpressBees", "https://www.xpressbees.com/shipment/tracking?awbNo={number}"
    ),
    "indiapost": Carrier(
        "India Post",
        "https://www.indiapost.gov.in/_layouts/15/dop.portal.tracking/trackconsignment.aspx",
    ),
    "dtdc": Carrier("DTDC", "https://www.dtdc.in/tracking.asp"),
    "ekart": Carrier("Ekart", "https://ekartlogistics.com/shipmenttrack/{number}"),
    "shadowfax": Carrier("Shadowfax", "https://tracker.shadowfax.in/#/track?trackingId={number}"),
    "jne": Carrier("JNE", "https://www.jne.co.id/tracking-package?resi={number}"),
    "jnt_id": Carrier("J&T Express", "https://jet.co.id/track?awb={number}"),
    "sicepat": Carrier("SiCepat", "https://www.sicepat.com/checkAwb/{number}"),
    "posindonesia": Carrier("Pos Indonesia", "https://www.posindonesia.co.id/en/tracking/{number}"),
    "posmalaysia": Carrier("Pos Malaysia", "https://tracking.pos.com.my/tracking/{number}"),
    "poslaju": Carrier("Pos Laju", "https://tracking.pos.com.my/tracking/{number}"),
    "ninjavan_my": Carrier("Ninja Van", "https://www.ninjavan.co/en-my/tracking?id={number}"),
    "jnt_my": Carrier("J&T Express", "https://www.jtexpress.my/tracking/{number}"),
    "citylink": Carrier(
        "City-Link Express", "https://www.citylinkexpress.com/tracking-result/?track0={number}"
    ),
    "gdex": Carrier("GDEX", "https://gdexpress.com/tracking/?consignmentno={number}"),
    "dhl": Carrier("DHL", "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}"),
    "fedex": Carrier("FedEx", "https://www.fedex.com/fedextrack/?trknbr={number}"),
    "ups": Carrier("UPS", "https://www.ups.com/track?tracknum={number}"),
}


def _key(code: str) -> str:
    return code.strip().lower().replace(" ", "").replace("-", "").replace("&", "n")


def carrier(code: str) -> Carrier:
    """The carrier behind a code, or one named from the code with the universal tracker."""
    known = CARRIERS.get(_key(code))
    if known is not None:
        return known
    return Carrier(code.replace("_", " ").strip().title() or "the courier", UNIVERSAL)


def tracking_url(code: str, number: str) -> str:
    """Where the customer follows this parcel."""
    return carrier(code).tracking.format(number=quote(number, safe=""))
