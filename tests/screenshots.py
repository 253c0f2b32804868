"""Screenshots of every page for docs/screenshots/: ``python -m tests.screenshots``.

Builds the demo (``tidings demo --no-serve``) in a temporary directory, gives its users a known
password, serves the app on the demo database and photographs each page in headless Chromium
at 1280 px (and the dashboard at phone width)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import Engine

from tests.browser import DESKTOP, PHONE, chromium, log_in
from tests.http import serve_app
from tidings.auth.users import set_password
from tidings.config import Settings
from tidings.store.db import make_engine, make_session_factory, transaction
from tidings.web.app import create_app
from tidings.web.review_queue import QueueFilters, queue_page

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "screenshots only"
# (file, user, path, viewport): one picture per page, as the role that uses it sees it.
SHOTS = (
    ("login.png", None, "/login", DESKTOP),
    ("dashboard.png", "admin", "/", DESKTOP),
    ("dashboard-phone.png", "ops", "/", PHONE),
    ("users.png", "admin", "/users", DESKTOP),
    ("killswitch.png", "admin", "/killswitch", DESKTOP),
    ("templates.png", "kapas-manager", "/templates", DESKTOP),
    ("template-editor.png", "kapas-manager", "/templates/kapas/shipped/whatsapp/hi", DESKTOP),
    ("forbidden.png", "ops", "/users", DESKTOP),
    ("queue.png", "ops", "/queue", DESKTOP),
    ("case.png", "ops", "/cases/{case}", DESKTOP),
    ("queue-phone.png", "ops", "/queue", PHONE),
    ("api-docs.png", "admin", "/docs", DESKTOP),
)


def build_demo(directory: Path) -> str:
    """Run the demo without serving; returns its database URL."""
    subprocess.run(
        [sys.executable, "-m", "tidings", "demo", "--no-serve", "--dir", str(directory)],
        cwd=directory,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout, whatever is installed
        check=True,
        capture_output=True,
    )
    return f"sqlite:///{directory / 'tidings-demo.db'}"


def first_in_queue(engine: Engine) -> int:
    """The case at the top of the demo's review queue."""
    with make_session_factory(engine)() as session:
        return queue_page(session, QueueFilters(), limit=1).items[0].id


def main() -> None:
    """Write the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = build_demo(Path(tmp))
        engine = make_engine(url)
        with transaction(make_session_factory(engine)) as session:
            for name in ("admin", "ops", "kapas-manager"):
                set_password(session, name=name, password=PASSWORD)
        app = create_app(Settings(database_url=url), engine=engine)
        with serve_app(app) as base, chromium() as browser:
            for file, user, path, viewport in SHOTS:
                context = browser.new_context(viewport=viewport, is_mobile=viewport is PHONE)
                page = context.new_page()
                if user:
                    log_in(page, base, user, PASSWORD)
                    page.wait_for_url(f"{base}/")
                page.goto(f"{base}{path.format(case=first_in_queue(engine))}")
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(out / file), full_page=True)
                context.close()
                print(f"{out / file}")
        engine.dispose()


if __name__ == "__main__":
    main()
