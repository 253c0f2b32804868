"""``tidings templates``: check coverage and validity, preview a source, load the bundled copy."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from tidings.cli.common import (
    console,
    err_console,
    errors_as_exit,
    fail,
    load_brands_for,
    load_settings,
    open_database,
)
from tidings.config.brands import Brand
from tidings.errors import TemplateError
from tidings.store.db import transaction
from tidings.store.enums import ChannelKind
from tidings.templates.bundled import BUNDLED_DIR, load_bundled
from tidings.templates.check import CheckReport, check_bundled, check_database
from tidings.templates.contract import EVENTS, LANGUAGES, PREVIEW_TIME_ZONES
from tidings.templates.render import render_source
from tidings.templates.samples import sample_variables
from tidings.templates.validate import validate_template

app = typer.Typer(
    help="Message templates: check coverage and validity, preview, load the bundled copy.",
    no_args_is_help=True,
)


@app.command()
def check(
    as_json: bool = typer.Option(False, "--json", help='end with {"missing": n, "invalid": n}'),
    bundled: bool = typer.Option(
        False, "--bundled", help="check the bundled YAML files instead of the database"
    ),
    directory: Path = typer.Option(
        BUNDLED_DIR, "--directory", file_okay=False, help="where the bundled copy is (--bundled)"
    ),
) -> None:
    """Report every missing (brand, event, channel, language) and every invalid template.

    Exits 1 when something is missing or invalid.
    """
    settings = load_settings()
    brands = load_brands_for(settings)
    with errors_as_exit():
        if bundled:
            report = check_bundled(brands=brands, directory=directory)
        else:
            database = open_database(settings)
            try:
                with transaction(database.sessions) as session:
                    report = check_database(session=session, brands=brands)
            finally:
                database.engine.dispose()
    _print_report(report)
    if as_json:
        console.print(json.dumps(report.counts()), highlight=False, markup=False)
    if report.missing or report.invalid:
        raise typer.Exit(1)


def _print_report(report: CheckReport) -> None:
    for label in report.missing:
        console.print(f"missing     {label}", markup=False, highlight=False)
    for label, problems in report.invalid.items():
        console.print(f"invalid     {label}", markup=False, highlight=False)
        for problem in problems:
            console.print(f"            {problem}", markup=False, highlight=False)
    for line in report.untranslated:
        console.print(f"untranslated {line}", markup=False, highlight=False)
    counts = report.counts()
    console.print(
        f"{counts['missing']} missing, {counts['invalid']} invalid, "
        f"{len(report.untranslated)} falling back to another language",
        highlight=False,
    )


@app.command()
def preview(
    source: Path = typer.Option(
        ..., "--source", exists=True, dir_okay=False, help="a file with the template text"
    ),
    language: str = typer.Option(..., "--language", help=f"one of {', '.join(LANGUAGES)}"),
    event: str = typer.Option("shipped", "--event", help="whose sample order data to use"),
    brand: str | None = typer.Option(None, "--brand", help="brand slug for the brand variables"),
    channel: ChannelKind | None = typer.Option(
        None, "--channel", help="also check this channel's limits and links"
    ),
    time_zone: str | None = typer.Option(None, "--time-zone", help="default: the language's"),
) -> None:
    """Render a template source with sample order data, in the brand managers' sandbox."""
    if language not in LANGUAGES:
        fail(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
    if event not in EVENTS:
        fail(f"unknown event {event!r}; events: {', '.join(EVENTS)}")
    brand_config = None
    if brand:
        brands = load_brands_for(load_settings())
        with errors_as_exit():
            brand_config = brands.get(brand)
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(f"{source} is not UTF-8 text")
    variables = sample_variables(event, language, brand=brand_config, channel=channel)
    try:
        rendered = render_source(
            text,
            language=language,
            time_zone=time_zone or PREVIEW_TIME_ZONES[language],
            variables=variables,
        )
    except TemplateError as exc:
        fail(f"template refused: {exc}")
    console.print(rendered, markup=False, highlight=False)
    if channel is not None:
        _print_limits(text, event=event, channel=channel, language=language, brand=brand_config)


def _print_limits(
    text: str, *, event: str, channel: ChannelKind, language: str, brand: Brand | None
) -> None:
    subject = "Preview" if channel is ChannelKind.EMAIL else None  # the body is what is checked
    issues = validate_template(
        event=event, channel=channel, language=language, body=text, subject=subject, brand=brand
    )
    for issue in issues:
        err_console.print(str(issue), markup=False, highlight=False)
    if any(issue.severity == "error" for issue in issues):
        raise typer.Exit(1)


@app.command()
def load(
    as_json: bool = typer.Option(False, "--json", help="end with one JSON line of counts"),
    directory: Path = typer.Option(
        BUNDLED_DIR, "--directory", file_okay=False, help="where the bundled copy is"
    ),
) -> None:
    """Load the bundled copy into the database as published versions (safe to re-run)."""
    settings = load_settings()
    brands = load_brands_for(settings)
    database = open_database(settings)
    try:
        with errors_as_exit(), transaction(database.sessions) as session:
            report = load_bundled(session=session, brands=brands, directory=directory)
    finally:
        database.engine.dispose()
    for problem in report.invalid:
        err_console.print(f"invalid  {problem}", markup=False, highlight=False)
    if report.skipped_scopes:
        err_console.print(
            f"skipped bundled copy of brands not in the brands file: "
            f"{', '.join(report.skipped_scopes)}",
            highlight=False,
        )
    counts = report.counts()
    console.print(
        f"added {counts['added']}, updated {counts['updated']}, drafted {counts['drafted']} "
        f"(edited by people), unchanged {counts['unchanged']}, invalid {counts['invalid']}",
        highlight=False,
    )
    if as_json:
        console.print(json.dumps(counts), highlight=False, markup=False)
    if report.invalid:
        raise typer.Exit(1)
