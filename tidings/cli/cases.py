"""``tidings cases``: what the pipeline made of the emails."""

from __future__ import annotations

import dataclasses
import getpass
import json
from datetime import timedelta
from pathlib import Path

import typer
from rich.table import Table

from tidings.agent.build import prune_closed
from tidings.agent.decisions import new_decision, record_decision
from tidings.agent.retry import retry_and_forget
from tidings.agent.trail import CaseDetails, case_details
from tidings.cli.common import console, errors_as_exit, fail, load_settings, open_database
from tidings.store.db import transaction
from tidings.store.enums import CaseState
from tidings.store.listing import list_cases

app = typer.Typer(
    help="Cases: list, show the trail, decide (approve, edit, reject...), retry, prune."
)


@app.command("list")
def list_command(
    state: list[CaseState] = typer.Option([], "--state", help="only these states (repeatable)"),
    category: list[str] = typer.Option([], "--category", help="e.g. wismo (repeatable)"),
    brand: list[str] = typer.Option([], "--brand", help="brand slug (repeatable)"),
    language: list[str] = typer.Option([], "--language", help="en, hi, id, ms (repeatable)"),
    limit: int = typer.Option(50, min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
) -> None:
    """The newest cases, filtered by state, category, brand and language."""
    sessions = open_database(load_settings()).sessions
    with sessions() as session:
        lines = list_cases(
            session=session,
            states=state,
            categories=category,
            brands=brand,
            languages=language,
            limit=limit,
        )
    if as_json:
        for line in lines:
            console.print(
                json.dumps(dataclasses.asdict(line), default=str), highlight=False, markup=False
            )
        return
    table = Table("id", "brand", "category", "conf.", "state", "lang", "order", "subject")
    for line in lines:
        table.add_row(
            str(line.id),
            line.brand or "-",
            line.category,
            f"{line.confidence:.2f}",
            line.state,
            line.language or "-",
            line.order or "-",
            (line.subject or "")[:60],
        )
    console.print(table)
    console.print(f"{len(lines)} case(s); filters: --state --category --brand --language")


@app.command("show")
def show_command(
    case_id: int = typer.Argument(..., help="the case id (see `tidings cases list`)"),
    as_json: bool = typer.Option(False, "--json", help="the whole case as one JSON object"),
) -> None:
    """The case's trail: email, classification, graph steps, guards, actions, messages,
    decisions."""
    with open_database(load_settings()).sessions() as session, errors_as_exit():
        details = case_details(session, case_id)
    if as_json:
        console.print(details.model_dump_json(), highlight=False, markup=False, soft_wrap=True)
        return
    print_details(details)


@app.command("decide")
def decide_command(
    case_id: int = typer.Argument(...),
    action: str = typer.Argument(
        ..., help="approve | edit | reject | relabel | reassign | resolve"
    ),
    reply_file: Path | None = typer.Option(None, "--reply-file", help="edit: the reply's text"),
    label: str | None = typer.Option(None, help="relabel: the right category"),
    assignee: str | None = typer.Option(None, help="reassign: to whom"),
    by: str = typer.Option(None, help="who decides (default: your user name)"),
    note: str | None = typer.Option(None),
) -> None:
    """Decide a case waiting for review; a worker applies it (sends the reply, closes...)."""
    reply = reply_file.read_text(encoding="utf-8") if reply_file else None
    sessions = open_database(load_settings()).sessions
    with errors_as_exit():
        if action not in ("approve", "edit", "reject", "relabel", "reassign", "resolve"):
            fail(f"unknown action {action!r}: approve, edit, reject, relabel, reassign or resolve")
        decision = new_decision(
            action,  # type: ignore[arg-type]  # checked just above
            by=by or f"cli:{getpass.getuser()}",
            reply=reply,
            label=label,
            assignee=assignee,
            note=note,
        )
        with transaction(sessions) as session:
            record_decision(session, case_id=case_id, decision=decision)
    console.print(f"case {case_id}: {action} recorded; a worker applies it (`tidings worker`)")


@app.command("retry")
def retry_command(case_id: int = typer.Argument(...)) -> None:
    """Run a failed case again; what it already did is not done twice."""
    settings = load_settings()
    sessions = open_database(settings).sessions
    with errors_as_exit():
        retry = retry_and_forget(
            sessions, settings.database_url, case_id, by=f"cli:{getpass.getuser()}"
        )
    console.print(f"case {case_id}: {retry.summary} (`tidings worker`)")


@app.command("prune")
def prune_command(
    days: float | None = typer.Option(None, help="closed longer ago than this (default: setting)"),
) -> None:
    """Delete the graph checkpoints of cases closed a while ago (the worker does it hourly)."""
    settings = load_settings()
    database = open_database(settings)
    keep = days if days is not None else settings.agent.checkpoint_retention_days
    with errors_as_exit():
        pruned = prune_closed(settings.database_url, database.sessions, timedelta(days=keep))
    console.print(f"pruned the checkpoints of {pruned} closed case(s)")


def print_details(d: CaseDetails) -> None:
    """The case as a short report."""
    out = console.print
    out(f"[bold]case {d.id}[/] · {d.brand or '-'} · {d.state} · order {d.order or '-'}")
    out(f"from {d.email_from} · {d.email_subject!r} · Message-ID {d.message_id}", markup=False)
    out(d.email_text[:600] + ("…" if len(d.email_text) > 600 else ""), markup=False)
    alternatives = ", ".join(f"{label} {p:.2f}" for label, p in d.alternatives)
    out(
        f"[bold]classified[/] {d.category} {d.confidence:.2f} by {d.classifier}"
        f" (alternatives: {alternatives or '-'}); language {d.language}; fields {d.fields}",
        highlight=False,
    )
    if d.escalation:
        out(f"[bold]escalated[/]: {'; '.join(d.escalation.get('reasons') or [])}", highlight=False)
    if d.draft_reply:
        stale = " (STALE: a newer email arrived)" if d.draft_stale else ""
        out(f"[bold]draft[/] ({d.draft_source}){stale}:", highlight=False)
        out(d.draft_reply, markup=False)
    table = Table("at", "step", "by", "what", title="trail")
    for e in d.trail:
        table.add_row(f"{e.at:%H:%M:%S}", e.kind, e.actor, e.summary)
    out(table)
    for a in d.actions:
        out(f"action {a.kind} on {a.order}: {a.outcome} {a.request or ''}", markup=False)
    for n in d.notifications:
        out(f"message #{n.id} {n.event} by {n.channel} ({n.language}) -> {n.recipient}: {n.state}")
    if d.resolution:
        out(f"[bold]resolution[/]: {d.resolution}", highlight=False)
    if d.last_error:
        out(f"[bold red]last error[/]: {d.last_error}", highlight=False)
