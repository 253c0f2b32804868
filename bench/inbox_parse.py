"""Parse throughput of the inbox on one core: emails/s, latency, memory, detector cost.

    python bench/inbox_parse.py [--quick] [--json] [--emails N] [--seed S]

Builds a corpus of N emails (10,000; 1,000 with --quick) from the project's labelled emails
(data/labelled, en/hi/id/ms, customers, carriers, suppliers) wrapped in the shapes real mail
comes in: plain text in UTF-8 with quoted-printable or base64, HTML with a plain alternative,
replies with a quoted thread and a signature, forwarded carrier notices (message/rfc822),
attachments, and some mislabelled charsets. Then it parses every email with ``parse_email``
in this process, pinned to one CPU. The lingua detector is built first and timed on its own.
The last line with --json is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from tidings.config import load_brands
from tidings.config.settings import BUNDLED_BRANDS_FILE, InboxSettings
from tidings.inbox.language import detector
from tidings.inbox.parse import parse_email
from tidings.inbox.patterns import compile_patterns
from tidings.inbox.sender import SenderLists

DATA = Path(__file__).resolve().parent.parent / "data" / "labelled"
SHAPES = ("plain", "plain", "html", "reply", "reply", "forward", "attachment", "mislabelled")


def rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def labelled_records() -> list[dict[str, Any]]:
    """Every labelled email (train and dev)."""
    records = []
    for path in sorted(DATA.rglob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            records += [json.loads(line) for line in handle if line.strip()]
    return records


def _base(record: dict[str, Any], number: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = record["from"]
    message["To"] = "Support <support@kapas.example>"
    message["Subject"] = record["subject"] or "(no subject)"
    message["Date"] = "Mon, 23 Nov 2026 10:00:00 +0530"
    message["Message-ID"] = f"<bench-{number}@tidings.test>"
    return message


def build_email(record: dict[str, Any], number: int, rng: random.Random) -> bytes:
    """One email around a labelled body, in a randomly chosen shape."""
    shape = rng.choice(SHAPES)
    body = record["body"]
    message = _base(record, number)
    if shape == "html":
        paragraphs = "".join(f"<p>{line}</p>" for line in body.splitlines() if line.strip())
        message.set_content(body, cte="quoted-printable")
        message.add_alternative(
            "<html><head><style>p{margin:0}</style></head><body>"
            "<div style='display:none'>preheader</div>" + paragraphs + "</body></html>",
            subtype="html",
        )
    elif shape == "reply":
        quoted = "\n".join("> " + line for line in body.splitlines()[:8])
        message.replace_header("Subject", "Re: " + str(message["Subject"]))
        message["In-Reply-To"] = f"<bench-{number - 1}@tidings.test>"
        message.set_content(
            f"{body}\n\nThanks,\nA customer\n\nOn Sun, 22 Nov 2026 at 18:00, Support "
            f"<support@kapas.example> wrote:\n{quoted}\n",
            cte="quoted-printable",
        )
    elif shape == "forward":
        inner = EmailMessage()
        inner["From"] = "J&T Express <noreply@jtexpress.my>"
        inner["Subject"] = "Your parcel 630018827461 could not be delivered"
        inner.set_content("We tried to deliver parcel 630018827461 today; address not found.")
        message.set_content(body + "\n\nPlease see the forwarded notice.")
        message.add_attachment(inner)
    elif shape == "attachment":
        message.set_content(body, cte="base64")
        message.add_attachment(b"%PDF-1.4 " + bytes(2000), maintype="application", subtype="pdf")
    elif shape == "mislabelled":
        message.set_content(body, cte="8bit")
        message.set_param("charset", "iso-8859-1")
    else:
        message.set_content(body, cte=rng.choice(["quoted-printable", "base64", "8bit"]))
    for index, part in enumerate(message.walk()):
        if part.is_multipart():
            part.set_boundary(f"==bench{number}-{index}==")
    return message.as_bytes(policy=SMTP)


def build_corpus(count: int, seed: int = 7) -> list[bytes]:
    """``count`` emails built from the labelled records, reproducibly."""
    rng = random.Random(seed)
    records = labelled_records()
    return [build_email(rng.choice(records), number, rng) for number in range(count)]


def pin_to_one_core() -> int | None:
    """Run on a single CPU, so the figure is per core; returns the CPU or None."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def main() -> None:
    """Build the corpus, time the detector, parse everything, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 emails instead of 10,000")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    parser.add_argument("--emails", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    count = args.emails or (1_000 if args.quick else 10_000)
    figures: dict[str, Any] = {"emails": count, "cpu": pin_to_one_core()}
    figures["rss_start_mb"] = round(rss_mb(), 1)

    started = time.perf_counter()
    corpus = build_corpus(count, args.seed)
    figures["corpus_build_s"] = round(time.perf_counter() - started, 2)
    figures["corpus_mb"] = round(sum(map(len, corpus)) / 1e6, 1)
    before = rss_mb()

    started = time.perf_counter()
    detector()
    figures["detector_build_s"] = round(time.perf_counter() - started, 3)
    figures["detector_rss_mb"] = round(rss_mb() - before, 1)

    settings = InboxSettings()
    brands = load_brands(BUNDLED_BRANDS_FILE)
    orders = compile_patterns(p for b in brands.brands for p in b.order_id_patterns)
    tracking = compile_patterns(settings.tracking_patterns)
    lists = SenderLists.build(
        carriers=settings.carrier_domains, customers=settings.customer_domains
    )
    latencies = []
    languages: dict[str, int] = {}
    started, cpu_started = time.perf_counter(), time.process_time()
    for raw in corpus:
        one = time.perf_counter()
        parsed = parse_email(
            raw, order_id_patterns=orders, tracking_patterns=tracking, sender_lists=lists
        )
        latencies.append(time.perf_counter() - one)
        languages[str(parsed.language)] = languages.get(str(parsed.language), 0) + 1
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    latencies.sort()
    figures["parse_s"] = round(elapsed, 2)
    figures["emails_per_s"] = round(count / elapsed, 1)
    # CPU time of this process: the per-core rate even when other work shares the machine.
    figures["parse_cpu_s"] = round(cpu, 2)
    figures["emails_per_cpu_s"] = round(count / cpu, 1)
    figures["load_average_1m"] = round(os.getloadavg()[0], 2)
    figures["p50_ms"] = round(statistics.median(latencies) * 1000, 3)
    figures["p99_ms"] = round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 3)
    figures["max_ms"] = round(latencies[-1] * 1000, 3)
    figures["peak_rss_mb"] = round(rss_mb(), 1)
    figures["languages"] = dict(sorted(languages.items()))
    figures["target_emails_per_s"] = 1000
    if not args.json:
        for key, value in figures.items():
            print(f"{key:>20}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
