"""The ``tidings`` command line. Each command group lives in its own module and stays thin."""

from __future__ import annotations

import typer

from tidings.cli import cases, db, emails, inbox, killswitch, model, outbox, users, wismo
from tidings.cli.demo import demo
from tidings.cli.eval import eval_command
from tidings.cli.seed import seed
from tidings.cli.serve import serve
from tidings.cli.templates import app as templates_app
from tidings.cli.train import train_command
from tidings.cli.worker import worker

app = typer.Typer(
    name="tidings",
    help="Tidings: classify, resolve and answer e-commerce exception email.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold secrets
)
app.command()(demo)
app.command()(serve)
app.command()(worker)
app.command()(seed)
app.command("train")(train_command)
app.command("eval")(eval_command)
app.add_typer(cases.app, name="cases")
app.add_typer(emails.app, name="emails")
app.add_typer(killswitch.app, name="killswitch")
app.add_typer(model.app, name="model")
app.add_typer(db.app, name="db")
app.add_typer(inbox.app, name="inbox")
app.add_typer(templates_app, name="templates")
app.add_typer(outbox.app, name="outbox")
app.add_typer(users.users_app, name="users")
app.add_typer(users.tokens_app, name="tokens")
app.add_typer(wismo.app, name="wismo")


def main() -> None:
    """Console-script entry point."""
    app()
