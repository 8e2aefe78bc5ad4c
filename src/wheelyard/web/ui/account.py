"""Logging in and out in the browser: the password (argon2, as everywhere) opens a server-side
session; failed attempts are throttled per client and per user name by yard/throttle.py."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from wheelyard.errors import TooManyRequests, Unauthenticated
from wheelyard.web.auth import client_of
from wheelyard.web.context import ctx
from wheelyard.web.ui.handler import endpoint
from wheelyard.web.ui.pages import redirect, render
from wheelyard.web.ui.visitors import (
    SESSION_COOKIE,
    anonymous_form_token,
    clear_session_cookie,
    keep_form_cookie,
    local_path,
    set_session_cookie,
)
from wheelyard.yard.websessions import Visitor, close_session, open_session


def _form_page(
    request: Request, who: Visitor | None, status: int = 200, error: str = "", name: str = ""
) -> Response:
    token = who.csrf if who else anonymous_form_token(request)
    target = local_path(request.query_params.get("next"))
    response = render(
        request,
        "login.html",
        status,
        visitor=who,
        form_token=token,
        error=error,
        name=name,
        next=target,
    )
    if who is None:
        keep_form_cookie(request, response, token)
    return response


def _show(_session: Session, request: Request, who: Visitor | None, _form: FormData) -> Response:
    return _form_page(request, who)


def _login(session: Session, request: Request, who: Visitor | None, form: FormData) -> Response:
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    target = local_path(str(form.get("next", "")))
    try:
        secret, _user = open_session(
            session, ctx(request).throttle, client_of(request), name, password
        )
    except TooManyRequests as exc:
        response = _form_page(request, who, 429, exc.message, name)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Unauthenticated as exc:
        return _form_page(request, who, 401, exc.message, name)
    response = redirect(target)
    set_session_cookie(request, response, secret)
    return response


def _logout(session: Session, request: Request, _who: Visitor | None, _form: FormData) -> Response:
    close_session(session, request.cookies.get(SESSION_COOKIE))
    response = redirect("/")
    clear_session_cookie(request, response)
    return response


login_form = endpoint(_show)
login = endpoint(_login)
logout = endpoint(_logout)
