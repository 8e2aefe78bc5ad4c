"""Credentials from a request: HTTP basic (``__token__:TOKEN``), ``token``/``Bearer`` headers,
or the Anaconda.org path form ``/t/<TOKEN>/…``."""

from __future__ import annotations

import base64
import binascii

from sqlalchemy.orm import Session
from starlette.requests import Request

from wheelyard.yard.errors import Unauthenticated
from wheelyard.yard.tokens import Principal, authenticate


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
    raise Unauthenticated(f"unsupported authorization scheme {scheme!r}")


def principal_for(session: Session, request: Request) -> Principal | None:
    """The authenticated principal, None when no credentials were sent, Unauthenticated if bad."""
    secret = token_from_request(request)
    if secret is None:
        return None
    principal = authenticate(session, secret)
    session.commit()  # persists the throttled last-use time
    return principal
