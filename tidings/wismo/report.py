"""What proactive WISMO did, read from the database: for ``tidings wismo report`` and /metrics.

- proactive messages queued and sent, by trigger (what found the problem) and channel;
- WISMO emails per 1,000 orders: inbound emails classified ``wismo`` per 1,000 orders placed in
  the window, the figure retailers track (fewer when customers are told first);
- time from detection (the episode opening) to the first message sent, median and 90th
  percentile;
- episodes opened by problem, open now, closed by reason, and why notices were held back.
The web app exposes the same figures on /metrics at scrape time (the scans and the sends happen
in other processes, so in-process counters would not see them).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import quantiles
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pydantic import BaseModel
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from tidings.store.enums import NotificationState
from tidings.store.models import Case, Notification, Order, WismoEpisode, WismoScan

E = WismoEpisode
N = Notification
SENT = (NotificationState.SENT, NotificationState.DELIVERED, NotificationState.READ)


DAYS = 30.0  # the window of the rates: retailers count WISMO emails per month


class Sent(BaseModel):
    """Proactive messages of one trigger on one channel."""

    trigger: str
    channel: str
    enqueued: int
    sent: int


class WismoReport(BaseModel):
    """The figures, over ``days`` up to ``until``."""

    days: float
    until: datetime
    orders: int
    wismo_emails: int
    wismo_emails_per_1000_orders: float
    proactive_enqueued: int
    proactive_sent: int
    by_trigger_and_channel: list[Sent]
    detection_to_message_seconds: dict[str, float | int | None]
    episodes_opened: dict[str, int]
    episodes_open: int
    episodes_closed: dict[str, int]
    held_back: dict[str, int]
    last_scan: dict[str, Any] | None

    def summary(self) -> dict[str, Any]:
        """The ``--json`` line."""
        return self.model_dump(mode="json")


def wismo_report(*, session: Session, until: datetime, days: float = DAYS) -> WismoReport:
    """The figures over the ``days`` before ``until``."""
    since = until - timedelta(days=days)
    orders, emails, rate = _wismo_rate(session, since)
    sent = _sent(session, since)
    return WismoReport(
        days=days,
        until=until,
        orders=orders,
        wismo_emails=emails,
        wismo_emails_per_1000_orders=rate,
        proactive_enqueued=sum(s.enqueued for s in sent),
        proactive_sent=sum(s.sent for s in sent),
        by_trigger_and_channel=sent,
        detection_to_message_seconds=_delays(session, since),
        episodes_opened=_grouped(session, E.problem, E.opened_at >= since),
        episodes_open=_open_episodes(session),
        episodes_closed=_grouped(session, E.close_reason, E.closed_at >= since),
        held_back=_grouped(session, E.suppressed, E.suppressed.is_not(None), E.closed_at.is_(None)),
        last_scan=_last_scan(session),
    )


def metrics(session: Session, now: datetime) -> bytes:
    """Prometheus text for /metrics: totals since the start (counters) and the rate over the
    last 30 days (gauges)."""
    registry = CollectorRegistry()
    registry.register(_Collector(session, now))
    return generate_latest(registry)


class _Collector:
    """Reads the figures once per scrape: only the queries its metrics need."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now

    def collect(self) -> list[Any]:
        """The metric families."""
        everything = _sent(self.session, None)
        messages = CounterMetricFamily(
            "tidings_wismo_proactive_messages",
            "Proactive WISMO messages queued, and sent, by trigger and channel.",
            labels=["trigger", "channel", "outcome"],
        )
        for row in everything:
            messages.add_metric([row.trigger, row.channel, "enqueued"], row.enqueued)
            messages.add_metric([row.trigger, row.channel, "sent"], row.sent)
        since = self.now - timedelta(days=DAYS)
        rate = GaugeMetricFamily(
            "tidings_wismo_emails_per_1000_orders",
            "Inbound emails classified wismo per 1,000 orders placed in the last 30 days.",
            value=_wismo_rate(self.session, since)[2],
        )
        delay = GaugeMetricFamily(
            "tidings_wismo_detection_to_message_seconds",
            "Seconds from a problem's detection to its first message sent (last 30 days).",
            labels=["quantile"],
        )
        delays = _delays(self.session, since)
        for name, quantile in (("p50", "0.5"), ("p90", "0.9")):
            value = delays.get(name)
            if value is not None:
                delay.add_metric([quantile], float(value))
        opened = CounterMetricFamily(
            "tidings_wismo_episodes_opened",
            "Delay episodes opened, by problem.",
            labels=["problem"],
        )
        for problem, count in _grouped(self.session, E.problem).items():
            opened.add_metric([problem], count)
        still = GaugeMetricFamily(
            "tidings_wismo_episodes_open",
            "Delay episodes open now.",
            value=_open_episodes(self.session),
        )
        return [messages, rate, delay, opened, still]


def _wismo_rate(session: Session, since: datetime) -> tuple[int, int, float]:
    """Orders placed and WISMO emails since ``since``, and the emails per 1,000 orders."""
    orders = _count(session, select(func.count()).where(Order.placed_at >= since))
    emails = _count(
        session,
        select(func.count()).where(Case.category == "wismo", Case.created_at >= since),
    )
    return orders, emails, round(1000 * emails / orders, 2) if orders else 0.0


def _open_episodes(session: Session) -> int:
    return _count(session, select(func.count()).where(E.closed_at.is_(None)))


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(query) or 0)


def _grouped(session: Session, column: Any, *where: Any) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).where(*where).group_by(column))
    return {str(getattr(key, "value", key)): int(n) for key, n in rows if key is not None}


def _sent(session: Session, since: datetime | None) -> list[Sent]:
    """Messages that tell an episode, by the episode's trigger and the message's channel."""
    sent = func.sum(case((N.state.in_(SENT), 1), else_=0))
    query = (
        select(E.trigger, N.channel, func.count(), sent)
        .join(E, E.id == N.wismo_episode_id)
        .group_by(E.trigger, N.channel)
        .order_by(E.trigger, N.channel)
    )
    if since is not None:
        query = query.where(N.created_at >= since)
    return [
        Sent(trigger=trigger.value, channel=channel.value, enqueued=n, sent=int(told or 0))
        for trigger, channel, n, told in session.execute(query)
    ]


def _delays(session: Session, since: datetime) -> dict[str, float | int | None]:
    """Median and 90th percentile of detection-to-first-message, over the window's episodes."""
    first = (
        select(E.opened_at, func.min(N.sent_at))
        .join(N, N.wismo_episode_id == E.id)
        .where(E.opened_at >= since, N.sent_at.is_not(None))
        .group_by(E.id, E.opened_at)
    )
    seconds = sorted(
        max(0.0, (told - opened).total_seconds())
        for opened, told in session.execute(first)
        if told is not None
    )
    if not seconds:
        return {"count": 0, "p50": None, "p90": None}
    if len(seconds) == 1:
        return {"count": 1, "p50": seconds[0], "p90": seconds[0]}
    cuts = quantiles(seconds, n=10, method="inclusive")
    return {"count": len(seconds), "p50": round(cuts[4], 1), "p90": round(cuts[8], 1)}


def _last_scan(session: Session) -> dict[str, Any] | None:
    row = session.scalar(
        select(WismoScan).where(WismoScan.finished_at.is_not(None)).order_by(WismoScan.id.desc())
    )
    if row is None:
        return None
    return {
        "at": row.started_at.isoformat(),
        "shipments": row.shipments,
        "episodes_opened": row.opened,
        "enqueued": row.enqueued,
    }
