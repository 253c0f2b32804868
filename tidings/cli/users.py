"""``tidings users`` and ``tidings tokens``: web app accounts and API tokens."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from tidings.auth.tokens import create_token, list_tokens, revoke_token
from tidings.auth.users import UserPublic, add_user, list_users, set_active, set_password
from tidings.cli.common import (
    console,
    errors_as_exit,
    fail,
    load_brands_for,
    load_settings,
    open_database,
)
from tidings.store.brands import sync_brands
from tidings.store.db import transaction
from tidings.store.enums import Role

users_app = typer.Typer(help="Web app users: add, list, disable, enable, set a password.")
tokens_app = typer.Typer(
    help="API tokens for machines (Authorization: Bearer): create, list, revoke."
)


def read_password(from_stdin: bool) -> str:
    """The password piped in on standard input (one line), or asked for twice at a prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("--password-stdin read an empty line: pipe the password in, e.g. `pass show x |`")
        return password
    first = typer.prompt("password", hide_input=True)
    if typer.prompt("again", hide_input=True) != first:
        fail("the two passwords differ")
    return str(first)


@users_app.command("add")
def add_command(
    name: str = typer.Argument(..., help="login name (lower case: a-z 0-9 . _ @ -)"),
    role: Role = typer.Option(..., "--role", help="ops, brand_manager or admin"),
    brand: list[str] = typer.Option([], "--brand", help="brand slug (repeatable; brand managers)"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the password from standard input, not a prompt"
    ),
) -> None:
    """Add a web app user."""
    password = read_password(password_stdin)
    settings = load_settings()
    brands = load_brands_for(settings)
    sessions = open_database(settings).sessions
    with errors_as_exit(), transaction(sessions) as session:
        sync_brands(session=session, brands=brands)  # a brand manager's brands must be rows
        user = add_user(session, name=name, role=role, password=password, brands=brand)
        shown = UserPublic.of(user)
    where = f" for {', '.join(shown.brands)}" if shown.brands else ""
    console.print(f"added {shown.name} ({shown.role.value}{where})", highlight=False)


@users_app.command("list")
def list_command() -> None:
    """Every user, with role, brands and last login."""
    with open_database(load_settings()).sessions() as session:
        users = [UserPublic.of(user) for user in list_users(session)]
    table = Table("name", "role", "brands", "status", "last login (UTC)")
    for user in users:
        table.add_row(
            user.name,
            user.role.value,
            ", ".join(user.brands) or "all",
            "active" if user.active else "disabled",
            f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never",
        )
    console.print(table)


def _set_active(name: str, active: bool) -> None:
    sessions = open_database(load_settings()).sessions
    with errors_as_exit(), transaction(sessions) as session:
        user = set_active(session, name=name, active=active)
        shown = user.name
    what = "enabled" if active else "disabled: their sessions ended, their tokens stop working"
    console.print(f"{shown} {what}", highlight=False)


@users_app.command("disable")
def disable_command(name: str = typer.Argument(...)) -> None:
    """Disable a user: logged out at once, no login, no token works."""
    _set_active(name, False)


@users_app.command("enable")
def enable_command(name: str = typer.Argument(...)) -> None:
    """Enable a disabled user again."""
    _set_active(name, True)


@users_app.command("set-password")
def set_password_command(
    name: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read it from stdin"),
) -> None:
    """Give a user a new password (their sessions end)."""
    password = read_password(password_stdin)
    sessions = open_database(load_settings()).sessions
    with errors_as_exit(), transaction(sessions) as session:
        set_password(session, name=name, password=password)
    console.print(f"new password set for {name}; their sessions ended", highlight=False)


@tokens_app.command("create")
def create_command(
    user: str = typer.Argument(..., help="the user the token acts as (role and brands)"),
    label: str | None = typer.Option(None, help="what it is for, e.g. prometheus"),
) -> None:
    """Create an API token and print it once: it is stored only as a hash."""
    sessions = open_database(load_settings()).sessions
    with errors_as_exit(), transaction(sessions) as session:
        new = create_token(session, user=user, label=label)
    # The token alone on stdout, so `TOKEN=$(tidings tokens create bot)` works; the rest on stderr.
    console.print(new.token, highlight=False, markup=False)
    sys.stderr.write(
        f"token {new.prefix}… acts as {new.user}; shown once, store it now. "
        "Send it as `Authorization: Bearer TOKEN`.\n"
    )


@tokens_app.command("list")
def tokens_list_command() -> None:
    """Every token: prefix, user, label, last use; never the token itself."""
    with open_database(load_settings()).sessions() as session:
        rows = list_tokens(session)
    table = Table("prefix", "user", "label", "created (UTC)", "last used", "status")
    for token, user in rows:
        table.add_row(
            token.prefix,
            user,
            token.label or "",
            f"{token.created_at:%Y-%m-%d %H:%M}",
            f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never",
            "revoked" if token.revoked_at else "live",
        )
    console.print(table)


@tokens_app.command("revoke")
def revoke_command(
    token: str = typer.Argument(..., help="the token, or its prefix from `tidings tokens list`"),
) -> None:
    """Revoke a token: it stops working at once."""
    sessions = open_database(load_settings()).sessions
    with errors_as_exit(), transaction(sessions) as session:
        row = revoke_token(session, token_or_prefix=token)
        prefix = row.prefix
    console.print(f"token {prefix}… revoked", highlight=False)
