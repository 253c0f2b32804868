"""The review queue's speed with a full queue: server time of the queue page, its JSON API
(``GET /api/cases``, with and without filters) and the case page, with 10,000 open cases.

    python bench/web.py [--quick] [--json] [--cases N] [--requests N] [--database-url URL]

Seeds the demo brands and orders, then N escalated cases (emails with HTML bodies, trails,
drafts, due times from the SLA) straight into the tables, serves the real app with uvicorn on
loopback, logs in as an ops user through the login form and calls each page in turn. Server
time is measured inside the server (an ASGI wrapper around the app, from the request's arrival
to the last byte of the answer), so the client's own work is not counted. Targets: the queue
page and its API p50 and p95 under 300 ms; the case page under 150 ms. --quick makes 20
requests per page instead of 100. The last line with --json is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine, insert, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.agent.sla import due
from tidings.auth.users import add_user
from tidings.classifiers.taxonomy import load_taxonomy
from tidings.config import Settings, load_brands
from tidings.config.settings import BUNDLED_BRANDS_FILE, AgentSettings
from tidings.demo.seed import seed_demo
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, make_engine, make_session_factory, transaction
from tidings.store.enums import CaseState, EmailState, Role
from tidings.store.migrate import upgrade
from tidings.store.models import BrandRow, Case, CaseEvent, InboundEmail, Order
from tidings.web.app import create_app

PASSWORD = "bench password only"  # noqa: S105 - a throwaway user in a temporary database
QUEUE_TARGET_MS = 300.0
CASE_TARGET_MS = 150.0
CHUNK = 1000
QUEUE_PAGES = ("queue_page", "queue_page_filtered", "api_cases", "api_cases_filtered")
CASE_PAGES = ("case_page", "api_case")
LANGUAGES = ("en", "hi", "id", "ms")
REASONS = (
    "the classifier is unsure (0.71)",
    "{brand} handles {category} in person (policy)",
    "the order or the sender could not be verified",
    "no resolver for {category}",
)


class ServerTimer:
    """ASGI wrapper: how long the app takes per request, arrival to last byte."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.times: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.times.append((time.perf_counter() - started) * 1000)

        await self.app(scope, receive, timed)


def seed_cases(sessions: SessionFactory, count: int, rng: random.Random) -> list[int]:
    """``count`` escalated cases over the seeded orders, due by the SLA; their ids."""
    categories = [c for c in load_taxonomy().names if c != "other"]
    settings = AgentSettings()
    now = utcnow()
    with sessions() as session:
        brands = {row.id: row.slug for row in session.scalars(select(BrandRow))}
        orders = session.execute(select(Order.number, Order.brand_id)).all()
    ids = []
    for start in range(0, count, CHUNK):
        emails, cases, events = [], [], []
        for n in range(start, min(count, start + CHUNK)):
            number, brand_id = rng.choice(orders)
            category = rng.choice(categories)
            arrived = now - timedelta(minutes=rng.uniform(0, 60 * 48))
            language = rng.choice(LANGUAGES)
            raw = _email(n, number, category, arrived)
            emails.append(_email_row(n + 1, brand_id, raw, arrived, language))
            reason = rng.choice(REASONS).format(brand=brands[brand_id], category=category)
            sla = due(category, None, settings, arrived=arrived)
            cases.append(
                {
                    "id": n + 1,
                    "brand_id": brand_id,
                    "email_id": n + 1,
                    "order_number": number,
                    "thread_id": f"email-{n + 1}",
                    "category": category,
                    "confidence": round(rng.uniform(0.5, 1.0), 3),
                    "alternatives": [[rng.choice(categories), 0.1], ["other", 0.02]],
                    "fields": {"order_id": number},
                    "language": language,
                    "state": CaseState.ESCALATED,
                    "escalation": {"reasons": [reason], "tried": []},
                    "draft_reply": f"About order {number}: our team is looking into it today.",
                    "draft_source": "template",
                    "due_at": sla.at,
                    "priority": sla.priority,
                    "assignee": "ops" if rng.random() < 0.1 else None,
                    "created_at": arrived,
                    "updated_at": arrived,
                }
            )
            for kind, summary in (("classify", f"classified as {category}"), ("escalate", reason)):
                events.append({"case_id": n + 1, "kind": kind, "summary": summary, "at": arrived})
            ids.append(n + 1)
        with transaction(sessions) as session:
            session.execute(insert(InboundEmail), emails)
            session.execute(insert(Case), cases)
            session.execute(insert(CaseEvent), events)
    return ids


def _email(n: int, number: str, category: str, arrived: Any) -> bytes:
    message = EmailMessage()
    message["From"] = f"Customer {n} <customer{n}@example.com>"
    message["To"] = "support@kapas.example"
    message["Subject"] = f"About my order {number}"
    message["Date"] = format_datetime(arrived)
    message["Message-ID"] = make_msgid(domain="bench.example")
    text = f"Hello, my order {number} has a problem ({category}). Please help.\n\nThanks"
    message.set_content(text)
    html = f"<p>Hello,</p><p>my order <b>{number}</b> is wrong.</p><img src='https://t.example/p'>"
    message.add_alternative(html, subtype="html")
    return message.as_bytes()


def _email_row(
    email_id: int, brand_id: int, raw: bytes, arrived: Any, language: str
) -> dict[str, Any]:
    return {
        "id": email_id,
        "mailbox": "bench",
        "brand_id": brand_id,
        "message_id": f"bench-{email_id}@bench.example",
        "dedupe_key": f"bench-{email_id}",
        "content_hash": f"{email_id:064x}",
        "raw": raw,
        "size_bytes": len(raw),
        "sender": f"customer{email_id}@example.com",
        "subject": f"About my order (bench {email_id})",
        "received_at": arrived,
        "state": EmailState.ESCALATED,
        "parsed": {"text": "Hello, my order has a problem. Please help.", "to": []},
        "language": language,
        "created_at": arrived,
        "updated_at": arrived,
    }


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """The app on a free loopback port, in a thread."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def log_in(client: httpx.Client) -> None:
    """Through the login form, as a browser does."""
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    if token is None:
        raise RuntimeError("the login page has no form token")
    data = {"name": "ops", "password": PASSWORD, "csrf_token": token.group(1), "next": "/"}
    answer = client.post("/login", data=data)
    if answer.status_code != 303:
        raise RuntimeError(f"login failed: {answer.status_code}")


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(p95, 1)}


def measure(
    url: str, engine: Engine, ids: list[int], requests: int, rng: random.Random
) -> dict[str, dict[str, float]]:
    """Each page ``requests`` times (after one warm-up call each); server times by page."""
    settings = Settings(database_url=url)
    timer = ServerTimer(create_app(settings, engine=engine))
    pages = {
        "queue_page": lambda: "/queue",
        "queue_page_filtered": lambda: "/queue?brand=kapas&age=4-24h",
        "api_cases": lambda: "/api/cases",
        "api_cases_filtered": lambda: f"/api/cases?category=damaged_item&assignee={'-'}",
        "case_page": lambda: f"/cases/{rng.choice(ids)}",
        "api_case": lambda: f"/api/cases/{rng.choice(ids)}",
    }
    results: dict[str, dict[str, float]] = {}
    with serve(timer) as base, httpx.Client(base_url=base, timeout=60) as client:
        log_in(client)
        for name, path in pages.items():
            timer.times.clear()
            for _ in range(requests + 1):
                called = path()
                answer = client.get(called, headers={"Accept": "text/html"})
                if answer.status_code != 200:
                    raise RuntimeError(f"{called}: {answer.status_code} {answer.text[:300]}")
            results[name] = percentiles(timer.times[1:])  # the first call warms caches
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 requests per page, not 100")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    requests = args.requests or (20 if args.quick else 100)
    rng = random.Random(13)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        brands = load_brands(BUNDLED_BRANDS_FILE)
        seed_demo(session_factory=sessions, brands=brands, orders=500 if args.quick else 2000)
        with transaction(sessions) as session:
            add_user(session, name="ops", role=Role.OPS, password=PASSWORD)
        started = time.perf_counter()
        ids = seed_cases(sessions, args.cases, rng)
        seeded_s = round(time.perf_counter() - started, 1)
        pages = measure(url, engine, ids, requests, rng)
        engine.dispose()
    queue_worst = max(pages[name]["p95_ms"] for name in QUEUE_PAGES)
    case_worst = max(pages[name]["p95_ms"] for name in CASE_PAGES)
    figures: dict[str, Any] = {
        "backend": url.split(":")[0].split("+")[0],
        "open_cases": args.cases,
        "requests_per_page": requests,
        "seed_s": seeded_s,
        **{f"{name}_{k}": v for name, values in pages.items() for k, v in values.items()},
        "queue_p95_target_ms": QUEUE_TARGET_MS,
        "case_p95_target_ms": CASE_TARGET_MS,
        "queue_ok": queue_worst < QUEUE_TARGET_MS,
        "case_ok": case_worst < CASE_TARGET_MS,
    }
    if not args.json:
        for key, value in figures.items():
            print(f"{key:>32}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
