"""``tidings wismo``: proactive WISMO, the delay scan and what it achieved."""

from __future__ import annotations

import typer

from tidings.cli.common import (
    console,
    errors_as_exit,
    load_brands_for,
    load_settings,
    open_database,
    print_json,
)
from tidings.store.base import utcnow
from tidings.wismo.report import wismo_report
from tidings.wismo.scan import Scanner

app = typer.Typer(help="Proactive WISMO: scan open shipments for delays, report the results.")


@app.command("scan")
def scan_command(
    as_json: bool = typer.Option(
        False, "--json", help='end with {"shipments": n, "episodes_opened": n, "enqueued": n}'
    ),
) -> None:
    """Scan every open shipment once: open delay episodes, queue what they owe in the outbox
    (`tidings outbox dispatch` sends it). The worker runs this on a schedule."""
    settings = load_settings()
    sessions = open_database(settings).sessions
    with errors_as_exit():
        scanner = Scanner(
            sessions=sessions, brands=load_brands_for(settings), settings=settings.wismo
        )
        report = scanner.scan()
    if report.skipped:
        console.print(f"skipped: {report.skipped}", highlight=False)
    else:
        console.print(
            f"{report.shipments} open shipments scanned in {report.seconds:.2f} s: "
            f"{report.episodes_opened} episodes opened, {report.closed} closed, "
            f"{report.follow_ups} follow-ups due, {report.enqueued} messages queued, "
            f"{report.suppressed} held back",
            highlight=False,
        )
        for reason, count in sorted(report.suppressed_by.items()):
            console.print(f"  held back ({reason}): {count}", highlight=False)
    if as_json:
        print_json(
            {
                "shipments": report.shipments,
                "episodes_opened": report.episodes_opened,
                "enqueued": report.enqueued,
            }
        )


@app.command("report")
def report_command(
    days: float = typer.Option(30.0, min=0.01, help="the window, in days up to now"),
    as_json: bool = typer.Option(False, "--json", help="end with one JSON line of the figures"),
) -> None:
    """Proactive messages by trigger and channel, WISMO emails per 1,000 orders, time from
    detection to message."""
    settings = load_settings()
    sessions = open_database(settings).sessions
    with sessions() as session:
        report = wismo_report(session=session, until=utcnow(), days=days)
    console.print(
        f"last {days:g} days: {report.orders} orders, {report.wismo_emails} WISMO emails "
        f"({report.wismo_emails_per_1000_orders} per 1,000 orders); proactive messages "
        f"{report.proactive_enqueued} queued, {report.proactive_sent} sent",
        highlight=False,
    )
    for row in report.by_trigger_and_channel:
        console.print(
            f"  {row.trigger:<20} {row.channel:<9} queued {row.enqueued:>6}  sent {row.sent:>6}",
            highlight=False,
        )
    delay = report.detection_to_message_seconds
    if delay.get("count"):
        console.print(
            f"detection to message: median {delay['p50']} s, 90% within {delay['p90']} s "
            f"({delay['count']} episodes)",
            highlight=False,
        )
    console.print(
        f"episodes: {report.episodes_open} open; opened {report.episodes_opened}; "
        f"closed {report.episodes_closed}; held back {report.held_back}",
        highlight=False,
    )
    if as_json:
        print_json(report.summary())
