"""The web app for tests: running on loopback against this test's database, with one user per
role, and clients that log in through the real login form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine

from tests.http import loopback_client, serve_app
from tidings.auth.tokens import create_token
from tidings.auth.users import add_user
from tidings.config import Settings, load_brands
from tidings.config.settings import BUNDLED_BRANDS_FILE
from tidings.store.brands import sync_brands
from tidings.store.db import SessionFactory, make_session_factory, transaction
from tidings.store.enums import Role
from tidings.web.app import create_app

PASSWORD = "correct horse battery staple"
# One user per role; the brand manager looks after kapas only.
USERS = {
    "admin": (Role.ADMIN, ()),
    "ops": (Role.OPS, ()),
    "kapas-manager": (Role.BRAND_MANAGER, ("kapas",)),
}
_CSRF = re.compile(r'"X-CSRF-Token": "([^"]+)"')
_LOGIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_role_users(sessions: SessionFactory) -> None:
    """The demo brands as rows, and one user per role with ``PASSWORD``."""
    with transaction(sessions) as session:
        sync_brands(session=session, brands=load_brands(BUNDLED_BRANDS_FILE))
        for name, (role, brands) in USERS.items():
            add_user(session, name=name, role=role, password=PASSWORD, brands=brands)


@dataclass
class Web:
    """A running app: its URL, its database, and ways to call it as someone."""

    url: str
    sessions: SessionFactory

    def client(self, **kwargs: Any) -> httpx.Client:
        """An anonymous client that asks for JSON (as the API's callers do)."""
        return loopback_client(self.url, **kwargs)

    def login(self, name: str, password: str = PASSWORD) -> httpx.Client:
        """A client logged in through the login form, sending its CSRF token as htmx does."""
        client = self.client()
        answer = submit_login(client, name, password)
        assert answer.status_code == 303, answer.text
        page = client.get("/", headers={"Accept": "text/html"})
        found = _CSRF.search(page.text)
        assert found, "the page carries no CSRF token"
        client.headers["X-CSRF-Token"] = found.group(1)
        return client

    def token(self, name: str) -> str:
        """A new API token acting as ``name``."""
        with transaction(self.sessions) as session:
            return create_token(session, user=name, label="test").token


def submit_login(client: httpx.Client, name: str, password: str) -> httpx.Response:
    """Load the login form and post it, as a browser does."""
    form = client.get("/login")
    found = _LOGIN_TOKEN.search(form.text)
    assert found, form.text
    data = {"name": name, "password": password, "csrf_token": found.group(1), "next": "/"}
    return client.post("/login", data=data)


@contextmanager
def running_app(engine: Engine, *, users: bool = True, **settings: Any) -> Iterator[Web]:
    """The app on a free loopback port against ``engine``'s database."""
    sessions = make_session_factory(engine)
    if users:
        add_role_users(sessions)
    app = create_app(Settings(**settings), engine=engine)
    with serve_app(app) as url:
        yield Web(url=url, sessions=sessions)
