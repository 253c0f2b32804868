"""``tidings outbox``: look at, send, and replay customer notifications."""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import FrameType

import typer
import yaml
from rich.table import Table

from tidings.channels.compose import Links
from tidings.channels.dispatch import Dispatcher
from tidings.channels.outbox import list_notifications, replay
from tidings.channels.registry import ChannelContext, default_registry
from tidings.channels.twilio import RoutedTwilioHttpClient, twilio_client
from tidings.channels.whatsapp import define_template, load_definitions, sync_templates
from tidings.cli.common import (
    console,
    errors_as_exit,
    fail,
    load_brands_for,
    load_settings,
    open_database,
    print_json,
)
from tidings.config import Settings
from tidings.store.base import utcnow
from tidings.store.brands import sync_brands
from tidings.store.db import transaction
from tidings.store.enums import NotificationState

app = typer.Typer(
    help="Customer notifications: list, dispatch, replay dead letters, WhatsApp templates."
)


@app.command("list")
def list_command(
    state: list[NotificationState] = typer.Option(
        [], "--state", help="only these states (repeatable)"
    ),
    limit: int = typer.Option(50, min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
) -> None:
    """The newest notifications with their state and why they were held, dropped or dead."""
    sessions = open_database(load_settings()).sessions
    with sessions() as session:
        rows = list_notifications(session=session, states=state, limit=limit)
    if as_json:
        for row in rows:
            print_json(
                {
                    "id": row.id,
                    "state": row.state.value,
                    "channel": row.channel.value,
                    "event": row.event,
                    "recipient": row.recipient,
                    "attempts": row.attempts,
                    "reason": row.hold_reason,
                    "error": row.last_error,
                    "provider_message_id": row.provider_message_id,
                }
            )
        return
    table = Table("id", "state", "channel", "event", "recipient", "tries", "reason / error")
    for row in rows:
        why = row.hold_reason or row.last_error or ""
        table.add_row(
            str(row.id),
            row.state.value,
            row.channel.value,
            row.event,
            row.recipient,
            str(row.attempts),
            why[:80],
        )
    console.print(table)


def build_dispatcher(
    settings: Settings,
    *,
    concurrency: int,
    public_url: str | None,
    clock: Callable[[], datetime] = utcnow,
) -> Dispatcher:
    """A dispatcher on the configured database and providers."""
    with errors_as_exit():
        channels = default_registry().build(ChannelContext(settings=settings))
    links = Links(
        public_url=public_url or settings.web.public_url,
        twilio_status_url=settings.twilio.status_callback_url,
    )
    return Dispatcher(
        session_factory=open_database(settings).sessions,
        brands=load_brands_for(settings),
        channels=channels,
        links=links,
        concurrency=concurrency,
        clock=clock,
    )


@app.command("dispatch")
def dispatch_command(
    once: bool = typer.Option(False, "--once", help="send what is due, then exit"),
    concurrency: int = typer.Option(8, min=1, max=64, help="provider calls in flight at once"),
    public_url: str | None = typer.Option(
        None,
        help="where customers and providers reach `tidings serve`"
        " (default: TIDINGS_WEB__PUBLIC_URL)",
    ),
    idle_sleep: float = typer.Option(1.0, min=0.1),
    as_json: bool = typer.Option(
        False, "--json", help="with --once: end with one JSON line of counts"
    ),
) -> None:
    """Send pending notifications; SIGTERM or Ctrl+C stops after the batch in hand."""
    settings = load_settings()
    dispatcher = build_dispatcher(settings, concurrency=concurrency, public_url=public_url)
    try:
        if once:
            report = dispatcher.run_until_idle()
            if as_json:
                print_json(report.counts)
            else:
                console.print(
                    ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "nothing due"
                )
            return

        def stop(_signum: int, _frame: FrameType | None) -> None:
            dispatcher.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        dispatcher.run_forever(idle_sleep=idle_sleep)
    finally:
        dispatcher.close()


@app.command("reconcile")
def reconcile_command(
    public_url: str | None = typer.Option(
        None, help="as given to `dispatch` (default: TIDINGS_WEB__PUBLIC_URL)"
    ),
    as_json: bool = typer.Option(False, "--json", help="end with one JSON line of counts"),
) -> None:
    """Ask the providers about possibly-sent rows: sent ones are recorded, never-sent ones go
    back to the queue, the rest stay for an operator. `dispatch` also does this every minute."""
    dispatcher = build_dispatcher(load_settings(), concurrency=1, public_url=public_url)
    try:
        counts = dispatcher.reconcile().counts
    finally:
        dispatcher.close()
    if as_json:
        print_json(counts)
    else:
        console.print(
            ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to settle"
        )


@app.command("replay")
def replay_command(
    ids: list[int] = typer.Option([], "--id", help="notification id to send again (repeatable)"),
    all_dead: bool = typer.Option(False, "--all-dead", help="every dead letter"),
    include_possibly_sent: bool = typer.Option(
        False, help="with --all-dead, also rows that may already have reached the customer"
    ),
    as_json: bool = typer.Option(False, "--json", help="end with one JSON line of counts"),
) -> None:
    """Put dead letters back in the queue; `tidings outbox dispatch` (or the worker) sends them."""
    if not ids and not all_dead:
        fail("name rows with --id N (repeatable) or pass --all-dead")
    sessions = open_database(load_settings()).sessions
    with transaction(sessions) as session:
        report = replay(
            session=session, ids=ids, all_dead=all_dead, include_possibly_sent=include_possibly_sent
        )
    for row_id, reason in report.skipped.items():
        console.print(f"skipped {row_id}: {reason}")
    if as_json:
        print_json(report.as_dict())
    else:
        console.print(f"requeued {len(report.requeued)}, skipped {len(report.skipped)}")


@app.command("whatsapp-sync")
def whatsapp_sync_command(
    definitions: Path | None = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        help="YAML with a `templates:` list to add or update first",
    ),
    submit: bool = typer.Option(
        False, "--submit", help="submit unsubmitted templates for WhatsApp approval"
    ),
    as_json: bool = typer.Option(False, "--json", help="end with one JSON line of counts"),
) -> None:
    """Create WhatsApp templates in Twilio's Content API and read their approval status back."""
    settings = load_settings()
    sessions = open_database(settings).sessions
    brands = load_brands_for(settings)
    token = settings.twilio.auth_token
    if not settings.twilio.account_sid or token is None:
        fail("WhatsApp templates live in Twilio: set TIDINGS_TWILIO__ACCOUNT_SID and __AUTH_TOKEN")
    routed = (
        RoutedTwilioHttpClient({"*": settings.twilio.api_base_url})
        if settings.twilio.api_base_url
        else None
    )
    with errors_as_exit(), transaction(sessions) as session:
        sync_brands(session=session, brands=brands)
        if definitions is not None:
            documents = (yaml.safe_load(definitions.read_text(encoding="utf-8")) or {}).get(
                "templates", []
            )
            for definition in load_definitions(documents):
                define_template(session=session, definition=definition)
        client = twilio_client(
            settings.twilio.account_sid, token.get_secret_value(), http_client=routed
        )
        report = sync_templates(session=session, client=client, submit=submit)
    if as_json:
        print_json(report.as_dict())
    else:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted((report.statuses or {}).items()))
        counts = f"created {report.created}, adopted {report.adopted}"
        console.print(f"{counts}, submitted {report.submitted}; {statuses}")
