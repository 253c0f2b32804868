"""Send-time policy: may this message go now, on which channel, and if not, why.

Checked when the dispatcher picks a message up, not when it is enqueued, because consent, the
customer's WhatsApp window and the clock all change in between:
- frequency cap for proactive messages (brand ``policies.proactive_per_week``): dropped;
- quiet hours in the customer's time zone for proactive messages: held until they end;
- per channel, in the customer's order (a proactive message: the brand's outreach order when it
  has one, e.g. WhatsApp, then SMS, then email): the brand has a sender, the customer has an
  address, consent (WhatsApp and SMS need an opt-in; email goes unless opted out), and
  WhatsApp's 24-hour customer-service window, outside which only an approved template may be
  sent (a utility template, for a proactive message).
The first channel that passes is used; the reasons the others failed are kept.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.channels.whatsapp import approved_template
from tidings.config.brands import Brand, QuietHours
from tidings.store.enums import ChannelKind, NotificationState
from tidings.store.models import Customer, Notification, WhatsAppTemplate

# Events the business starts; the rest answer something the customer did or asked.
PROACTIVE_EVENTS = frozenset(
    {
        "shipped",
        "out_for_delivery",
        "delivered",
        "delayed",
        "back_on_track",
        "address_confirmation_request",
        "reschedule_options",
        "failed_attempt",
        "customs_action_needed",
        "backorder_update",
        "partial_shipment",
    }
)
WHATSAPP_WINDOW = timedelta(hours=24)
CHANNELS = {kind.value: kind for kind in ChannelKind}
CAP_PERIOD = timedelta(days=7)
_COUNTED = (
    NotificationState.SENDING,
    NotificationState.SENT,
    NotificationState.DELIVERED,
    NotificationState.READ,
)


@dataclass(frozen=True)
class Send:
    """Send on ``kind`` to ``recipient``; with ``template`` as a WhatsApp content template."""

    kind: ChannelKind
    recipient: str
    template: WhatsAppTemplate | None = None
    note: str | None = None


@dataclass(frozen=True)
class Hold:
    """Not now: try again at ``until``."""

    until: datetime
    reason: str


@dataclass(frozen=True)
class Drop:
    """Never: no channel may carry it, or the cap is reached."""

    reason: str


Decision = Send | Hold | Drop


@dataclass(frozen=True)
class SendPolicy:
    """The rules, with the defaults above; pass another to change them."""

    proactive_events: frozenset[str] = PROACTIVE_EVENTS
    opt_in_required: frozenset[ChannelKind] = field(
        default_factory=lambda: frozenset({ChannelKind.WHATSAPP, ChannelKind.SMS})
    )

    def decide(
        self,
        *,
        session: Session,
        brand: Brand,
        notification: Notification,
        customer: Customer | None,
        available: Collection[ChannelKind],
        now: datetime,
    ) -> Decision:
        """The decision for one pending notification."""
        if customer is None:  # addressed by hand (e.g. a reply to an unknown sender)
            return Send(notification.channel, notification.recipient)
        if self.is_proactive(notification):
            limit = self._cap_or_quiet(session, brand, notification, customer, now)
            if limit is not None:
                return limit
        return self._channel(session, brand, notification, customer, available, now)

    def is_proactive(self, notification: Notification) -> bool:
        """Whether we speak first (quiet hours and the cap apply), not answer the customer."""
        if notification.proactive is not None:
            return notification.proactive
        return notification.event in self.proactive_events

    def _cap_or_quiet(
        self,
        session: Session,
        brand: Brand,
        notification: Notification,
        customer: Customer,
        now: datetime,
    ) -> Decision | None:
        cap = brand.policies.proactive_per_week
        sent = proactive_count(
            session,
            customer.id,
            self.proactive_events,
            since=now - CAP_PERIOD,
            exclude=notification.id,
        )
        if sent >= cap:
            return Drop(f"frequency cap: {sent} proactive messages in 7 days, brand allows {cap}")
        tz = zone_of(customer.time_zone)
        until = quiet_until(brand.policies.quiet_hours, now, tz)
        if until is not None:
            window = (
                f"{brand.policies.quiet_hours.start:%H:%M}-{brand.policies.quiet_hours.end:%H:%M}"
            )
            return Hold(
                until, f"quiet hours {window} {tz.key}; held until {until.astimezone(tz):%H:%M}"
            )
        return None

    def _channel(
        self,
        session: Session,
        brand: Brand,
        notification: Notification,
        customer: Customer,
        available: Collection[ChannelKind],
        now: datetime,
    ) -> Decision:
        refused: list[str] = []
        proactive = self.is_proactive(notification)
        order = outreach_order(brand, customer.channel_order) if proactive else None
        for kind in channel_candidates(notification.channel, order or customer.channel_order):
            reason = self._refusal(brand, customer, kind, available)
            template = None
            if reason is None and kind is ChannelKind.WHATSAPP and not in_window(customer, now):
                languages = [notification.language, brand.default_language]
                template = approved_template(
                    session,
                    brand_slug=brand.slug,
                    event=notification.event,
                    languages=languages,
                    category="UTILITY" if proactive else None,
                )
                if template is None:
                    kind_of = "utility template" if proactive else "template"
                    reason = f"outside the 24-hour window and no approved {kind_of}"
            if reason is None:
                note = "; ".join(refused) if refused else None
                return Send(kind, recipient_for(customer, kind), template, note)
            refused.append(f"{kind.value}: {reason}")
        return Drop("no channel allowed: " + "; ".join(refused))

    def _refusal(
        self,
        brand: Brand,
        customer: Customer,
        kind: ChannelKind,
        available: Collection[ChannelKind],
    ) -> str | None:
        if kind not in available:
            return "no provider configured"
        if kind is not ChannelKind.EMAIL and getattr(brand.senders, kind.value) is None:
            return f"{brand.slug} has no {kind.value} sender"
        if not (customer.email if kind is ChannelKind.EMAIL else customer.phone):
            return "no address on file"
        consent = {c.channel: c for c in customer.consents}.get(kind)
        if consent is not None and not consent.opted_in:
            return f"opted out ({consent.source})"
        if consent is None and kind in self.opt_in_required:
            return "no opt-in"
        return None


def channel_candidates(first: ChannelKind, order: Sequence[str]) -> list[ChannelKind]:
    """The enqueued channel, then the given order (the customer's preferences), each once."""
    ordered = [first, *(CHANNELS[name] for name in order if name in CHANNELS)]
    return list(dict.fromkeys(ordered))


def outreach_order(brand: Brand, customer_order: Sequence[str]) -> list[str]:
    """The channels a proactive message tries, in order: the brand's outreach order when it has
    one, else the customer's own."""
    return list(brand.policies.outreach.channels) or list(customer_order)


def recipient_for(customer: Customer, kind: ChannelKind) -> str:
    """The customer's address on a channel."""
    return address_on(kind, email=customer.email, phone=customer.phone)


def address_on(kind: ChannelKind, *, email: str | None, phone: str | None) -> str:
    """An email address or E.164 phone number as a channel addresses it."""
    if kind is ChannelKind.EMAIL:
        return email or ""
    if kind is ChannelKind.WHATSAPP:
        return f"whatsapp:{phone}"
    return phone or ""


def in_window(customer: Customer, now: datetime) -> bool:
    """Whether the customer wrote on WhatsApp in the last 24 hours (free text is allowed)."""
    last = customer.last_inbound_whatsapp_at
    return last is not None and now - last < WHATSAPP_WINDOW


def quiet_until(quiet: QuietHours, now: datetime, tz: ZoneInfo) -> datetime | None:
    """When quiet hours end if ``now`` is inside them (local time ``tz``), else None."""
    start, end = quiet.start, quiet.end
    if start == end:
        return None
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz)


def proactive_count(
    session: Session,
    customer_id: int,
    events: Collection[str],
    *,
    since: datetime,
    exclude: int | None = None,
) -> int:
    """Proactive messages sent (or being sent) to a customer since ``since``."""
    by_event = Notification.proactive.is_(None) & Notification.event.in_(list(events))
    query = select(func.count()).where(
        Notification.customer_id == customer_id,
        Notification.proactive.is_(True) | by_event,
        Notification.state.in_(_COUNTED),
        func.coalesce(Notification.sent_at, Notification.updated_at) >= since,
    )
    if exclude is not None:
        query = query.where(Notification.id != exclude)
    return int(session.scalar(query) or 0)


def zone_of(name: str) -> ZoneInfo:
    """A customer's time zone; UTC for a name that is not one (a bad row must not stop
    the dispatcher)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
