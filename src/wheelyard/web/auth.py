"""Credentials from a request: HTTP basic (``__token__:TOKEN``), ``token``/``Bearer`` headers,
or the Anaconda.org path form ``/t/<TOKEN>/…``; failed attempts are throttled per client."""

from __future__ import annotations

import base64
import binascii

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from wheelyard.db.unit import unit_of_work
from wheelyard.errors import Unauthenticated
from wheelyard.web.context import ctx
from wheelyard.yard.throttle import AuthThrottle
from wheelyard.yard.tokens import Principal, authenticate

_PRINCIPAL = "wheelyard.principal"
_UNKNOWN = object()


def throttle_of(request: Request) -> AuthThrottle:
    """The yard's failed-authentication throttle (made with the app)."""
    return ctx(request).throttle


def client_of(request: Request) -> str:
    # uvicorn already applied X-Forwarded-For from trusted proxies (--forwarded-allow-ips).
    return request.client.host if request.client else "unknown"


def token_from_request(request: Request) -> str | None:
    """The token secret the request carries, if any (path token wins)."""
    path_token = request.path_params.get("token")
    if path_token:
        return str(path_token)
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme in ("token", "bearer"):
        return value.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("malformed basic authorization header") from None
        _user, _, password = decoded.partition(":")
        # Any user name is accepted (pip sends whatever the URL or netrc holds); the token decides.
        return password or None
    # Never echo the header: it may be a secret sent to the wrong place.
    raise Unauthenticated(
        "unsupported authorization scheme: use a token (Basic with __token__, 'token' or Bearer)"
    )


def principal_for(request: Request) -> Principal | None:
    """The authenticated principal, None when no credentials were sent, Unauthenticated if bad.

    Authentication is a unit of work of its own, checked once per request: the token's
    last-use time it records commits at once (kept even if the request then fails) and never
    holds the database's write lock while the rest of the request runs. No cached page shows
    that time, so the unit moves no page cache (``caches=False``).
    """
    known = request.scope.get(_PRINCIPAL, _UNKNOWN)
    if known is not _UNKNOWN:
        return known  # type: ignore[no-any-return]
    secret = token_from_request(request)
    if secret is None:
        return None
    throttle, client = throttle_of(request), client_of(request)
    try:
        with unit_of_work(ctx(request).sessions, caches=False) as unit:
            throttle.check(unit.session, client)
            principal = authenticate(unit.session, secret)
    except Unauthenticated:
        throttle.failed(client, secret)
        raise
    request.scope[_PRINCIPAL] = principal
    return principal


async def aprincipal_for(request: Request) -> Principal | None:
    """``principal_for`` for a handler on the event loop: its unit of work runs in a worker
    thread, as every unit must (a unit blocks on the database, and on PostgreSQL a write
    waits for every serving process, this one's loop included, to acknowledge it)."""
    known = request.scope.get(_PRINCIPAL, _UNKNOWN)
    if known is not _UNKNOWN:
        return known  # type: ignore[no-any-return]
    return await run_in_threadpool(principal_for, request)
