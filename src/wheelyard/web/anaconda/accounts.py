"""Anaconda API: authentication, tokens ("authentications"), scopes and users."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wheelyard.db.models import Owner, Token
from wheelyard.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from wheelyard.web.anaconda.common import (
    iso,
    json_body,
    need_principal,
    user_json,
)
from wheelyard.web.auth import client_of, principal_for, throttle_of
from wheelyard.web.context import ctx
from wheelyard.yard import accounts
from wheelyard.yard import tokens as yard_tokens
from wheelyard.yard.access import knows_owner, require_token_management, visible_owner
from wheelyard.yard.scopes import (
    SCOPES,
    TOKENS_READ,
    TOKENS_WRITE,
    not_covered,
    parse_scopes,
)
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


def _login(session: Session, request: Request, name: str, password: str) -> Owner:
    """Password login, throttled per client and per user name (checked before the password)."""
    throttle, client = throttle_of(request), client_of(request)
    throttle.check(session, client, name)
    try:
        return accounts.login(session, name, password)
    except Unauthenticated:
        throttle.failed(client, password, name)
        raise


def _field(body: dict[str, Any], name: str, kind: type, what: str) -> Any:
    value = body.get(name)
    if value is not None and not isinstance(value, kind):
        raise InvalidInput(f"{name!r} must be {what}")
    return value


def _create(session: Session, request: Request, body: dict[str, Any]) -> str:
    # Validate the request before any credential is looked at: a bad body is a 400, never a 500.
    name = _field(body, "note", str, "a string (the token's name)") or "anaconda-client"
    org_name = _field(body, "user", str, "the name of an organisation (a string)")
    asked = _field(body, "scopes", list, 'a list of scope names, e.g. ["api:read"]')
    try:
        wanted = parse_scopes(asked) if asked else None
    except InvalidInput as exc:
        raise InvalidInput(f"'scopes': {exc.message}") from None
    max_age = yard_tokens.check_max_age(body.get("max-age"), "'max-age'")
    fail_if_exists = _field(body, "fail-if-exists", bool, "true or false")

    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        raise Unauthenticated("Bearer token authentication is not enabled")
    basic = _basic(request)
    if basic is not None:
        user = _login(session, request, *basic)
        scope_list = wanted or ("all",)  # none asked = full access, as on Anaconda.org
    else:
        principal = need_principal(request)
        require_token_management(principal, TOKENS_WRITE, "create tokens")
        scope_list = wanted or principal.scopes
        beyond = not_covered(principal.scopes, scope_list)
        if beyond:  # a token never mints a stronger one
            raise Forbidden(
                f"token {principal.token_name!r} cannot create a token with scopes it lacks: "
                f"{', '.join(beyond)}"
            )
        user = accounts.get_user(session, principal.user_name)
    org = None
    if org_name and org_name.lower() != user.name:
        org = accounts.get_owner(session, org_name)
        if org.kind != "org" or not accounts.can_act_for(session, user.id, org):
            raise Forbidden(f"user {user.name!r} is not a member of {org_name!r}")
    _token, secret = yard_tokens.create_token(
        session,
        user,
        name,
        list(scope_list),
        max_age,
        replace=not fail_if_exists,
        org=org,
    )
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
    principal = need_principal(request)
    require_token_management(principal, TOKENS_READ, "list tokens")
    user = accounts.get_user(session, principal.user_name)
    return [_token_json(t) for t in yard_tokens.list_tokens(session, user)]


async def list_tokens(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_list, request))


def _current(session: Session, request: Request) -> dict[str, Any]:
    # Any valid token may describe itself (``anaconda auth --info``).
    principal = need_principal(request)
    token = session.get(Token, principal.token_id)
    assert token is not None
    return _token_json(token)


async def current_token(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_current, request))


def _remove(session: Session, request: Request, name: str | None, org: str | None) -> None:
    principal: Principal = need_principal(request)
    user = accounts.get_user(session, principal.user_name)
    if name is None or (org is None and name == principal.token_name):
        # Any valid token may revoke itself (``anaconda logout``); others need api:write.
        yard_tokens.revoke_own(session, principal)
        return
    require_token_management(principal, TOKENS_WRITE, "revoke other tokens")
    org_owner = None
    if org is not None:
        org_owner = accounts.get_owner(session, org)
        if not accounts.can_act_for(session, user.id, org_owner):
            raise NotFound(f"user {user.name!r} has no token named {name!r} for {org!r}")
    yard_tokens.revoke_token(session, user, name, org_owner)


async def remove_token(request: Request) -> Response:
    params = request.path_params
    await ctx(request).run(_remove, request, params.get("name"), params.get("org"))
    return JSONResponse({"ok": True}, status_code=201)


def _me(session: Session, request: Request) -> dict[str, Any]:
    principal = need_principal(request)
    return user_json(accounts.get_user(session, principal.user_name))


async def whoami(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_me, request))


def _user(session: Session, request: Request) -> dict[str, Any]:
    """A private owner exists only for its users (the upload flow asks with any scope)."""
    principal = principal_for(request)
    return user_json(visible_owner(session, principal, request.path_params["owner"]))


async def user(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_user, request))


def _orgs(session: Session, request: Request, name: str | None) -> list[dict[str, Any]]:
    principal = principal_for(request)
    if name is None:
        name = need_principal(request).user_name
    owner: Owner = visible_owner(session, principal, name)
    if owner.kind != "user":
        return []
    return [
        user_json(o)
        for o in accounts.orgs_of(session, owner.id)
        if knows_owner(session, principal, o)
    ]


async def orgs(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_orgs, request, request.path_params.get("owner")))
