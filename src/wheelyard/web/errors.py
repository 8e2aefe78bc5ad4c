"""Mapping of domain errors to HTTP answers: JSON ``{"error": ...}``, never a traceback."""

from __future__ import annotations

import logging

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


async def yard_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.YardError)
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
    response = error_response(status, exc.message)
    if isinstance(exc, errors.TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, exc.detail or "error")


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path.split("/t/")[0])
    return error_response(500, "internal server error")


HANDLERS = {errors.YardError: yard_error, HTTPException: http_error, Exception: unexpected}
