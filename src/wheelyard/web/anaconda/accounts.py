"""Anaconda API: authentication, tokens ("authentications"), scopes and users."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wheelyard.db.models import Owner, Token
from wheelyard.web.anaconda.common import (
    iso,
    json_body,
    need_principal,
    user_json,
)
from wheelyard.web.auth import principal_for
from wheelyard.web.context import ctx
from wheelyard.yard import accounts
from wheelyard.yard import tokens as yard_tokens
from wheelyard.yard.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from wheelyard.yard.scopes import SCOPES, grants
from wheelyard.yard.tokens import Principal


async def authentication_type(_request: Request) -> Response:
    return JSONResponse({"authentication_type": "password"})


async def scopes(_request: Request) -> Response:
    return JSONResponse(SCOPES)


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("malformed basic authorization header") from None
    return user, password


def _create(session: Session, request: Request, body: dict[str, Any]) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        raise Unauthenticated("Bearer token authentication is not enabled")
    basic = _basic(request)
    if basic is not None:
        user = accounts.login(session, *basic)
    else:
        principal = need_principal(session, request)
        if not grants(principal.scopes, "api"):
            raise Forbidden(f"token {principal.token_name!r} lacks scope 'api' to create tokens")
        user = accounts.get_user(session, principal.user_name)
    org = body.get("user")
    if org and not accounts.can_act_for(session, user.id, accounts.get_owner(session, org)):
        raise Forbidden(f"user {user.name!r} is not a member of {org!r}")
    name = str(body.get("note") or "anaconda-client")
    scope_list = body.get("scopes") or ["all"]  # none asked = full access, as on Anaconda.org
    max_age = body.get("max-age")
    _token, secret = yard_tokens.create_token(
        session,
        user,
        name,
        [str(s) for s in scope_list],
        int(max_age) if max_age else None,
        replace=not body.get("fail-if-exists", False),
    )
    session.commit()
    return secret


async def create_token(request: Request) -> Response:
    body = await json_body(request)
    try:
        secret = await ctx(request).run(_create, request, body)
    except Conflict as exc:  # 400 makes the client ask, then retry with fail-if-exists false
        raise InvalidInput(exc.message) from None
    return JSONResponse({"token": secret})


def _token_json(t: Token) -> dict[str, Any]:
    return {
        "id": str(t.id),
        "application": t.name,
        "remote_addr": None,
        "hostname": None,
        "expires": iso(t.expires_at),
        "scopes": t.scopes.split(),
        "created_at": iso(t.created_at),
        "last_used": iso(t.last_used_at),
    }


def _list(session: Session, request: Request) -> list[dict[str, Any]]:
    principal = need_principal(session, request)
    user = accounts.get_user(session, principal.user_name)
    return [_token_json(t) for t in yard_tokens.list_tokens(session, user)]


async def list_tokens(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_list, request))


def _current(session: Session, request: Request) -> dict[str, Any]:
    principal = need_principal(session, request)
    token = session.get(Token, principal.token_id)
    assert token is not None
    return _token_json(token)


async def current_token(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_current, request))


def _remove(session: Session, request: Request, name: str | None, org: str | None) -> None:
    principal: Principal = need_principal(session, request)
    user = accounts.get_user(session, principal.user_name)
    if org is not None:
        accounts.get_owner(session, org)
    if name is None:
        token = session.get(Token, principal.token_id)
        if token is None:
            raise NotFound("token already removed")
        name = token.name
    yard_tokens.revoke_token(session, user, name)
    session.commit()


async def remove_token(request: Request) -> Response:
    params = request.path_params
    await ctx(request).run(_remove, request, params.get("name"), params.get("org"))
    return JSONResponse({"ok": True}, status_code=201)


def _me(session: Session, request: Request) -> dict[str, Any]:
    principal = need_principal(session, request)
    return user_json(accounts.get_user(session, principal.user_name))


async def whoami(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_me, request))


def _user(session: Session, request: Request) -> dict[str, Any]:
    """A private owner exists only for its members (the upload flow asks with any scope)."""
    principal = principal_for(session, request)
    owner = accounts.get_owner(session, request.path_params["owner"])
    if owner.private and not (
        principal and accounts.can_act_for(session, principal.user_id, owner)
    ):
        raise NotFound(f"no owner named {owner.name!r}")
    return user_json(owner)


async def user(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_user, request))


def _orgs(session: Session, request: Request, name: str | None) -> list[dict[str, Any]]:
    if name is None:
        name = need_principal(session, request).user_name
    owner: Owner = accounts.get_owner(session, name)
    if owner.kind != "user":
        return []
    return [user_json(o) for o in accounts.orgs_of(session, owner.id)]


async def orgs(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_orgs, request, request.path_params.get("owner")))
