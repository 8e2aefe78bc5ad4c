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
from wheelyard.web.ui.errorpage import error_page
from wheelyard.web.ui.visitors import check_form, visitor
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


def endpoint(work: Work) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
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
