"""Browser-facing protections: security headers on every response, cookie flags, and the CSRF
tokens that every form and htmx request carries."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.auth.keys import same
from tidings.config import Settings

SESSION_COOKIE = "tidings_session"
LOGIN_COOKIE = "tidings_login"  # binds the login form to this browser (login CSRF)
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# No inline script or style anywhere: every script and stylesheet is a file the app serves.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000"


class SecurityHeaders:
    """ASGI middleware: the headers above on every response, unless a route set its own (the
    unsubscribe pages keep their stricter Referrer-Policy; the API docs their script hashes).
    Strict-Transport-Security only over https, where it means something."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if https and "Strict-Transport-Security" not in headers:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, with_headers)


def secure_cookies(request: Request, settings: Settings) -> bool:
    """Cookies are ``Secure`` unless the app serves plain http on loopback (a laptop, the demo,
    tests) and no https public URL says a proxy in front of it serves https."""
    public = settings.web.public_url or ""
    if request.url.scheme == "https" or public.startswith("https://"):
        return True
    server = request.scope.get("server")
    host = server[0] if server else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    return not loopback


def login_form_token(settings: Settings, browser_nonce: str) -> str:
    """The token the login form carries: an HMAC of the nonce in the browser's login cookie,
    so only a page this app served to this browser can post a login (no login CSRF)."""
    key = settings.web.secret_key.get_secret_value().encode()
    return hmac.new(key, browser_nonce.encode(), hashlib.sha256).hexdigest()


def login_form_ok(settings: Settings, browser_nonce: str | None, sent: str | None) -> bool:
    """Whether a posted login form came from a login page served to this browser."""
    if not browser_nonce or not sent:
        return False
    return same(login_form_token(settings, browser_nonce), sent)


async def csrf_sent(request: Request) -> str | None:
    """The CSRF token a state-changing request carries: htmx sends a header, plain forms a
    field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def client_ip(request: Request) -> str:
    """The client's address as uvicorn saw it (it applies X-Forwarded-For from trusted proxies,
    by default 127.0.0.1: see uvicorn's --forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"
