"""Dispatch rate: notifications sent per second by the outbox dispatcher to the mock providers.

    python bench/dispatch.py [--quick] [--json] [--messages N] [--concurrency N] [--rate-limits]
                             [--processes N] [--database-url URL]

Prism mock servers built from the official Twilio and SendGrid specs stand in for the providers
(install them with `bash .ci/setup.d/20-prism.sh`); every request is validated against the
contract. Messages are a mix of WhatsApp, SMS and email. Each one takes the full path: lease,
policy, render, commit `sending`, provider call, commit `sent`. Rendering uses a trivial renderer
so the figure is the dispatcher's, not the template engine's. --rate-limits applies the
providers' default limits (Twilio SMS 10/s!); without it the providers are unthrottled.
--processes N runs N dispatcher processes against the one database, as a deployment scales.
The last line with --json is one JSON object of the figures. --quick sends 300 messages.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WARM_UP = 60  # messages sent before the clock starts
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the Prism launcher is a test helper

from sqlalchemy import func, select  # noqa: E402

from tests import prism  # noqa: E402
from tidings.channels.dispatch import Dispatcher  # noqa: E402
from tidings.channels.outbox import enqueue  # noqa: E402
from tidings.channels.sendgrid import SendGridChannel  # noqa: E402
from tidings.channels.twilio import TwilioChannel, twilio_client  # noqa: E402
from tidings.config import load_brands  # noqa: E402
from tidings.config.settings import BUNDLED_BRANDS_FILE  # noqa: E402
from tidings.store.base import utcnow  # noqa: E402
from tidings.store.brands import sync_brands  # noqa: E402
from tidings.store.db import make_engine, make_session_factory, transaction  # noqa: E402
from tidings.store.enums import ChannelKind, NotificationState  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402
from tidings.store.models import Customer, CustomerConsent, Notification  # noqa: E402
from tidings.templates.render import RenderedMessage  # noqa: E402


def plain_renderer(**kwargs: Any) -> RenderedMessage:
    """Subject and text from the event and order number; nothing else."""
    number = kwargs["variables"]["order"]["number"]
    text = f"Update on your order {number}: {kwargs['event']}."
    subject = f"Order {number}" if kwargs["channel"] is ChannelKind.EMAIL else None
    return RenderedMessage(
        subject=subject, text=text, html=None, template_version_id=None, language=kwargs["language"]
    )


def seed(sessions: Any, count: int, *, first: int = 0) -> None:
    """``count`` Kapas customers, a third on each channel, one notification each."""
    brands = load_brands(BUNDLED_BRANDS_FILE)
    kinds = ["whatsapp", "sms", "email"]
    with transaction(sessions) as session:
        brand = sync_brands(session=session, brands=brands)["kapas"]
        for i in range(first, first + count):
            kind = kinds[i % 3]
            customer = Customer(
                brand_id=brand.id,
                name=f"Customer {i}",
                email=f"c{i}@example.in",
                phone=f"+9198{i:08d}",
                channel_order=[kind],
                last_inbound_whatsapp_at=utcnow(),
                consents=[
                    CustomerConsent(channel=ChannelKind(kind), opted_in=True, source="bench")
                ],
            )
            session.add(customer)
            session.flush()
            enqueue(
                session=session,
                brand=brand,
                customer=customer,
                event="order_confirmed",
                episode=str(i),
                variables={"order": {"number": f"KAP-{300000 + i}"}},
            )


@dataclass(frozen=True)
class Setup:
    """What a dispatcher process needs to start on its own."""

    url: str
    routes: dict[str, str]
    sendgrid_url: str
    concurrency: int
    rate_limits: bool


@dataclass(frozen=True)
class Result:
    """What one dispatcher process did."""

    outcomes: dict[str, int]
    twilio_statuses: list[int]


def run_dispatcher(setup: Setup) -> Result:
    """One dispatcher, with its own engine and provider clients, until nothing is due."""
    engine = make_engine(setup.url)
    http = prism.LoopbackTwilioHttpClient(setup.routes)
    client = twilio_client(prism.ACCOUNT_SID, prism.AUTH_TOKEN, http_client=http)
    channels = {
        ChannelKind.WHATSAPP: TwilioChannel(kind=ChannelKind.WHATSAPP, client=client),
        ChannelKind.SMS: TwilioChannel(kind=ChannelKind.SMS, client=client),
        ChannelKind.EMAIL: SendGridChannel(api_key="SG.bench", host=setup.sendgrid_url),
    }
    if not setup.rate_limits:
        for channel in channels.values():
            channel.rate_per_second = None
    dispatcher = Dispatcher(
        session_factory=make_session_factory(engine),
        brands=load_brands(BUNDLED_BRANDS_FILE),
        channels=channels,
        renderer=plain_renderer,
        concurrency=setup.concurrency,
    )
    report = dispatcher.run_until_idle()
    dispatcher.close()
    engine.dispose()
    return Result(report.counts, sorted({status for _, _, status in http.sent}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 messages instead of 2,000")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=16, help="per process")
    parser.add_argument("--processes", type=int, default=1, help="dispatcher processes")
    parser.add_argument("--rate-limits", action="store_true", help="apply provider rate limits")
    parser.add_argument(
        "--database-url", default=None, help="an empty database (default: a temporary SQLite file)"
    )
    args = parser.parse_args()
    count = args.messages or (300 if args.quick else 2000)
    if not prism.PRISM.exists():
        sys.exit("Prism is not installed: run `bash .ci/setup.d/20-prism.sh`")
    started = time.perf_counter()
    routes = {"api.twilio.com": prism.server(prism.TWILIO_API).url}
    sendgrid_url = prism.server(prism.SENDGRID_MAIL).url
    figures: dict[str, Any] = {"messages": count, "concurrency": args.concurrency}
    figures["mocks_start_s"] = round(time.perf_counter() - started, 2)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        figures["backend"] = url.split(":")[0].split("+")[0]
        upgrade(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        seed(sessions, WARM_UP)
        setup = Setup(url, routes, sendgrid_url, args.concurrency, args.rate_limits)
        # Prism answers its first requests slowly (its JIT warming up): send a few untimed.
        warm = run_dispatcher(setup)
        seed(sessions, count, first=WARM_UP)
        engine.dispose()  # nothing of the parent's pool may cross a fork
        t = time.perf_counter()
        if args.processes == 1:
            results = [run_dispatcher(setup)]
        else:
            fork = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(args.processes, mp_context=fork) as pool:
                results = list(pool.map(run_dispatcher, [setup] * args.processes))
        elapsed = time.perf_counter() - t
        with sessions() as session:
            sent = (
                session.scalar(
                    select(func.count())
                    .select_from(Notification)
                    .where(Notification.state == NotificationState.SENT)
                )
                or 0
            ) - WARM_UP
        engine.dispose()
    prism.stop_all()
    outcomes: Counter[str] = Counter()
    for result in results:
        outcomes.update(result.outcomes)
    statuses = sorted({s for result in [warm, *results] for s in result.twilio_statuses})
    figures.update(
        {
            "processes": args.processes,
            "sent": sent,
            "outcomes": dict(outcomes),
            "twilio_statuses": statuses,
            "dispatch_s": round(elapsed, 3),
            "messages_per_s": round((sent or 0) / elapsed, 1),
            "rate_limits": bool(args.rate_limits),
        }
    )
    if not args.json:
        for key, value in figures.items():
            print(f"{key:>16}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
