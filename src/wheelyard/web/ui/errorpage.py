"""HTML error pages for browsers: the UI's own routes always answer errors as pages, and any
other route does so when a browser (not pip, twine or an API client) navigated to it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse

from wheelyard.web.ui.pages import render

TITLES = {
    400: "Bad request",
    401: "Log in required",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Conflict",
    413: "Too large",
    423: "Locked",
    429: "Too many attempts",
    503: "Unavailable",
    507: "Storage full",
}


def wants_html(request: Request) -> bool:
    """A browser navigating: it says so (``Sec-Fetch-Dest: document``) or asks for XHTML, which
    no package client does."""
    if request.headers.get("sec-fetch-dest") == "document":
        return True
    return "application/xhtml+xml" in request.headers.get("accept", "")


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    title = TITLES.get(status, "Error")
    return render(request, "error.html", status, title=title, message=message, status=status)
