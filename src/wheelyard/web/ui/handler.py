"""How every UI endpoint runs: in a worker thread with one database session, the visitor
loaded from its cookie, a posted form checked for its CSRF token before anything is done, and
any refusal answered as an HTML page (never JSON). The endpoint's work commits its own unit of
work, once, at the end."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from wheelyard.errors import YardError
from wheelyard.web.context import ctx
from wheelyard.web.errors import STATUS
from wheelyard.web.pagecache import make_page
from wheelyard.web.ui.errorpage import error_page
from wheelyard.web.ui.pages import HEADERS
from wheelyard.web.ui.visitors import SESSION_COOKIE, check_form, visitor
from wheelyard.yard.websessions import Visitor

Work = Callable[[Session, Request, Visitor | None, FormData], Response]
MAX_FIELDS = 50
MAX_FIELD = 16 * 1024  # the largest form field the UI takes (a token name, a label name)


def _call(session: Session, work: Work, request: Request, form: FormData | None) -> Response:
    who = visitor(session, request)
    if form is not None:
        check_form(request, form, who)
    return work(session, request, who, form or FormData())


def status_of(exc: YardError) -> int:
    return next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)


def _cached(request: Request) -> tuple[tuple[object, ...], int] | None:
    """The cache key and database version of an anonymous reading page, if it may be cached:
    every anonymous visitor gets the same page while nothing is committed."""
    probe = ctx(request).ui_probe
    if request.method not in ("GET", "HEAD") or SESSION_COOKIE in request.cookies:
        return None
    version = probe.version() if probe is not None else None
    if version is None:
        return None
    return (str(request.base_url), request.url.path, request.url.query), version


def endpoint(work: Work, cache: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint doing ``work``; with ``cache``, anonymous answers are kept in memory
    while the database is unchanged (its pages show nothing that depends on the visitor)."""

    async def handle(request: Request) -> Response:
        key = _cached(request) if cache else None
        if key is not None:
            hit = ctx(request).ui_pages.get(key[0], key[1])
            if hit is not None:
                return Response(hit.body, hit.status, HEADERS, hit.media_type)
        response = await _answer(request)
        if key is not None and isinstance(response.body, bytes):
            page = make_page(
                response.body, response.media_type or "text/html", response.status_code
            )
            ctx(request).ui_pages.put(key[0], key[1], page)
        return response

    async def _answer(request: Request) -> Response:
        try:
            form = None
            if request.method == "POST":
                form = await request.form(
                    max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD
                )
            return await ctx(request).run(_call, work, request, form)
        except YardError as exc:
            return error_page(request, status_of(exc), exc.message)
        except HTTPException as exc:  # a malformed form
            return error_page(request, exc.status_code, exc.detail or "bad request")

    handle.__name__ = handle.__qualname__ = work.__name__
    handle.__doc__ = work.__doc__
    return handle
