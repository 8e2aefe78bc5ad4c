"""Mapping of domain errors to HTTP answers: JSON ``{"error": ...}``, never a traceback."""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wheelyard import errors

log = logging.getLogger("wheelyard.web")

STATUS: dict[type[errors.YardError], int] = {
    errors.InvalidInput: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.TooLarge: 413,
    errors.Locked: 423,
    errors.InsufficientStorage: 507,
    errors.StorageError: 503,
    errors.TooManyRequests: 429,
}

REALM = 'Basic realm="wheelyard", charset="UTF-8"'


def error_response(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": REALM} if status == 401 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _for_browser(request: Request, status: int, message: str) -> Response | None:
    """An HTML page when a browser navigated here (web/ui/errorpage.py), else None."""
    from wheelyard.web.ui.errorpage import error_page, wants_html  # local: the UI imports this

    if status == 401 or not wants_html(request):
        return None  # 401 keeps its Basic challenge: pip and browsers may then offer a login
    return error_page(request, status, message)


async def yard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.YardError)
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
    page = _for_browser(request, status, exc.message)
    if page is not None:
        return page
    response = error_response(status, exc.message)
    if isinstance(exc, errors.TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    page = _for_browser(request, exc.status_code, exc.detail or "error")
    return page or error_response(exc.status_code, exc.detail or "error")


def _disk_full(exc: OperationalError) -> bool:
    """SQLite's SQLITE_FULL, or PostgreSQL's disk_full (SQLSTATE 53100)."""
    code = getattr(exc.orig, "sqlstate", None)
    return code == "53100" or "database or disk is full" in str(exc.orig)


async def database_error(request: Request, exc: Exception) -> Response:
    """The database failed: a full disk is 507, anything else 503; the transaction was rolled
    back, so nothing was stored."""
    assert isinstance(exc, OperationalError)
    log.error("database error on %s %s: %s", request.method, _path(request), exc.orig)
    if _disk_full(exc):
        return error_response(507, "the database's disk is full; nothing was stored")
    return error_response(503, "the database is unavailable; nothing was stored, try again")


def _path(request: Request) -> str:
    return request.url.path.split("/t/")[0]  # never a path token


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, _path(request))
    return error_response(500, "internal server error")


HANDLERS = {
    errors.YardError: yard_error,
    HTTPException: http_error,
    OperationalError: database_error,
    Exception: unexpected,
}
