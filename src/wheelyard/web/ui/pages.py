"""Rendering of the web UI: the Jinja2 environment (autoescaped), the security headers every
page carries (a content-security policy that allows no script at all), and HTML answers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from wheelyard import __version__
from wheelyard.db.models import as_utc

TEMPLATES = Path(__file__).with_name("templates")

# No script-src: it falls back to default-src 'none', so no script runs, inline or not.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # Pages depend on who is logged in and may show private things: never stored by caches.
    "Cache-Control": "private, no-store",
    "Vary": "Cookie",
}


def size(n: int) -> str:
    """A byte count for people: 1.2 MiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def when(moment: datetime | None) -> str:
    return "—" if moment is None else as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime | None) -> str:
    return "" if moment is None else as_utc(moment).isoformat()


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(size=size, when=when, iso=iso, pair=lambda row: ("", row))
_env.globals.update(version=__version__)


def render(request: Request, template: str, status: int = 200, /, **context: Any) -> HTMLResponse:
    """The page ``template`` with ``context``; ``visitor`` and ``form_token`` (the CSRF token
    for the page's forms) are expected in it for the header."""
    context.setdefault("visitor", None)
    context.setdefault("form_token", "")
    base = str(request.base_url).rstrip("/")
    body = _env.get_template(template).render(request=request, base=base, **context)
    return HTMLResponse(body, status_code=status, headers=dict(HEADERS))


def redirect(url: str) -> RedirectResponse:
    """See-other after a form post (the browser then GETs ``url``)."""
    return RedirectResponse(url, status_code=303, headers=dict(HEADERS))
