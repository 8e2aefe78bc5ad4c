"""The browser side of sessions and CSRF: the session cookie (HttpOnly, SameSite=Lax, Secure
over TLS), the visitor it stands for, and the form tokens every form sends back.

A logged-in visitor's forms carry its session's token (yard/websessions.py). The anonymous
log-in form is protected by a double-submit token: a random cookie the form must repeat.
"""

from __future__ import annotations

import hmac
import secrets

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from wheelyard.errors import Forbidden
from wheelyard.yard.websessions import LIFETIME, Visitor, csrf_ok, visitor_of

SESSION_COOKIE = "wy_session"
FORM_COOKIE = "wy_form"
FIELD = "csrf"


VISITOR_USER = "wheelyard.visitor_user"  # scope key: the access log names the logged-in user


def visitor(session: Session, request: Request) -> Visitor | None:
    who = visitor_of(session, request.cookies.get(SESSION_COOKIE))
    if who is not None:
        # Only the access log reads this; the session never authenticates an API request.
        request.scope[VISITOR_USER] = who.user.name
    return who


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def anonymous_form_token(request: Request) -> str:
    """The token of the anonymous form (the cookie's, or a new one ``keep_form_cookie`` sets)."""
    return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)


def keep_form_cookie(request: Request, response: Response, token: str) -> None:
    if request.cookies.get(FORM_COOKIE) != token:
        response.set_cookie(
            FORM_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/"
        )


def check_form(request: Request, form: FormData, who: Visitor | None) -> None:
    """Refuse a form post whose token is not the session's (or, anonymous, the cookie's)."""
    sent = form.get(FIELD)
    sent = sent if isinstance(sent, str) else None
    if who is not None:
        if csrf_ok(who, sent):
            return
    else:
        cookie = request.cookies.get(FORM_COOKIE)
        if cookie and sent and hmac.compare_digest(cookie, sent):
            return
    raise Forbidden("the form has expired or did not come from this site; reload it and retry")


def set_session_cookie(request: Request, response: Response, secret: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=_secure(request), path="/"
    )


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site (never another host: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
