"""IMAP ingest rate: emails per second from a Dovecot folder to committed, flagged rows.

    python bench/imap_ingest.py [--quick] [--json] [--emails N] [--batch B] [--database-url URL]
                                [--security starttls|tls|none] [--parse]

Starts a private Dovecot on loopback (as the tests do; needs dovecot-imapd, see
.ci/setup.d/10-dovecot.sh), delivers N emails built like bench/inbox_parse.py's corpus (10,000;
1,000 with --quick), then times one ``MailboxPoller.poll_once()``: fetch with BODY.PEEK[], store
with dedupe, commit per batch, flag \\Seen. It checks that every email became exactly one row and
that every message ends seen. ``--parse`` also times the parse step over the new rows. Pass a
PostgreSQL URL of an empty database to measure there (it is migrated first). The last line with
--json is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.dovecot

from inbox_parse import build_corpus  # same directory as this script

from tests.dovecot import Dovecot, available, new_user
from tidings.config import load_brands
from tidings.config.settings import BUNDLED_BRANDS_FILE, InboxSettings
from tidings.inbox.poll import MailboxPoller
from tidings.logs import configure_logging
from tidings.pipeline.steps import parse_step
from tidings.pipeline.worker import Worker
from tidings.store.db import make_engine, make_session_factory
from tidings.store.migrate import upgrade
from tidings.store.models import InboundEmail


def main() -> None:
    """Deliver, ingest, verify, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 emails instead of 10,000")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    parser.add_argument("--emails", type=int, default=None)
    parser.add_argument("--batch", type=int, default=100, help="messages per fetch and commit")
    parser.add_argument("--security", default="starttls", choices=["starttls", "tls", "none"])
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--parse", action="store_true", help="also time the parse step")
    args = parser.parse_args()
    if not available():
        sys.exit("dovecot is not installed: run .ci/setup.d/10-dovecot.sh")
    configure_logging(level="WARNING")  # one line per batch would drown the figures
    count = args.emails or (1_000 if args.quick else 10_000)
    figures: dict[str, Any] = {"emails": count, "batch": args.batch, "security": args.security}
    corpus = build_corpus(count, seed=11)
    figures["corpus_mb"] = round(sum(map(len, corpus)) / 1e6, 1)
    with tempfile.TemporaryDirectory() as tmp, Dovecot() as server:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'ingest.db'}"
        figures["backend"] = url.split(":")[0].split("+")[0]
        upgrade(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        user = new_user()
        started = time.perf_counter()
        server.deliver(user, corpus)
        figures["deliver_s"] = round(time.perf_counter() - started, 2)

        box = server.mailbox(user, security=args.security)
        inbox = server.inbox_settings(fetch_batch=args.batch, first_sync_days=1)
        poller = MailboxPoller(mailbox=box, inbox=inbox, session_factory=sessions)
        started = time.perf_counter()
        report = poller.poll_once()
        elapsed = time.perf_counter() - started
        figures["ingest_s"] = round(elapsed, 2)
        figures["ingest_emails_per_s"] = round(report.fetched / elapsed, 1)
        figures.update({k: v for k, v in report.as_dict().items() if k != "uidvalidity_reset"})

        with sessions() as session:
            rows = session.scalar(select(func.count()).select_from(InboundEmail)) or 0
        flags = server.flags(user)
        figures["rows"] = rows
        figures["all_seen"] = all(seen for seen, _ in flags.values()) and len(flags) == count
        figures["exactly_once"] = rows == count

        if args.parse:
            brands = load_brands(BUNDLED_BRANDS_FILE)
            started = time.perf_counter()
            Worker(
                session_factory=sessions, steps=[parse_step(brands, InboxSettings())]
            ).run_until_idle()
            parse_elapsed = time.perf_counter() - started
            figures["parse_step_s"] = round(parse_elapsed, 2)
            figures["parse_step_emails_per_s"] = round(count / parse_elapsed, 1)
        engine.dispose()
    figures["target_emails_per_s"] = 200
    if not args.json:
        for key, value in figures.items():
            print(f"{key:>26}: {value}")
    print(json.dumps(figures))
    if not (figures["all_seen"] and figures["exactly_once"]):
        sys.exit("ingest check failed: not every email is exactly one row and seen")


if __name__ == "__main__":
    main()
