"""What the app's routes share: database sessions and the page templates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from tidings.store.db import SessionFactory

# Autoescaped: Starlette turns escaping on for .html templates.
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _read_session(request: Request) -> Iterator[Session]:
    factory: SessionFactory = request.app.state.read_sessions
    with factory() as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(_read_session)]


def write_sessions(request: Request) -> SessionFactory:
    """The app's writing session factory, for routes that change rows in a ``transaction``."""
    factory: SessionFactory = request.app.state.sessions
    return factory
