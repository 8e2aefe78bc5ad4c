"""API tokens: minted once, stored as a SHA-256 hash, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from wheelyard.db.models import Owner, Token, as_utc, utcnow
from wheelyard.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from wheelyard.yard.events import record
from wheelyard.yard.scopes import parse_scopes

PREFIX = "wy_"
_LAST_USE_RESOLUTION = timedelta(minutes=1)  # don't write on every request
MAX_AGE = 10 * 366 * 24 * 3600  # ten years: longer lifetimes are a mistake (or an overflow)


def hash_secret(secret: str) -> str:
    # Tokens carry 256 random bits, so a fast unsalted hash is safe and allows indexed look-up.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a user, through one of their tokens.

    A token made for an organisation (``anaconda auth --create -o ORG``) carries ``org_id``
    and acts only for that organisation: ``accounts.can_act_for`` refuses every other owner,
    the user's own namespace included.
    """

    user_id: int
    user_name: str
    token_id: int
    token_name: str
    scopes: tuple[str, ...]
    org_id: int | None = None


def check_max_age(value: object, field: str = "max-age") -> int | None:
    """A lifetime in whole seconds (1 s to ten years), from an int or a string of digits."""
    if value is None or value == "":
        return None
    # ASCII digits, at most 12: int() refuses "²" (isdigit() is true) and runs of over 4300.
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit() and len(text) <= 12:
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AGE:
        raise InvalidInput(
            f"{field} must be a whole number of seconds between 1 and {MAX_AGE} (ten years)"
        )
    return value


def create_token(
    session: Session,
    user: Owner,
    name: str,
    scopes: str | list[str],
    max_age: int | None = None,
    replace: bool = False,
    org: Owner | None = None,
) -> tuple[Token, str]:
    """Mint a token; returns the row and the secret, which is never stored or shown again.

    With ``org`` the token acts only for that organisation (the caller checks membership).
    """
    if not name or len(name) > 200:
        raise InvalidInput("a token needs a name of 1-200 characters")
    max_age = check_max_age(max_age)
    parsed = parse_scopes(scopes)
    existing = session.scalar(select(Token).where(Token.user_id == user.id, Token.name == name))
    if existing is not None:
        if not replace:
            raise Conflict(f"user {user.name!r} already has a token named {name!r}")
        session.delete(existing)
        session.flush()
    secret = PREFIX + secrets.token_urlsafe(32)
    token = Token(
        user_id=user.id,
        name=name,
        secret_hash=hash_secret(secret),
        scopes=" ".join(parsed),
        expires_at=utcnow() + timedelta(seconds=max_age) if max_age else None,
        org_id=org.id if org is not None else None,
    )
    session.add(token)
    session.flush()
    what = "token-replace" if existing is not None else "token-create"
    detail = f"{name} scopes={token.scopes}" + (f" for {org.name}" if org is not None else "")
    record(session, user, user.name, what, detail)  # never the secret
    return token, secret


# Built once: every credentialed request runs it. One Core query with the user's name joined
# (the ORM's object, its lazy user load and their identity-map upkeep cost 0.4 ms a request).
_BY_HASH = (
    select(
        Token.id,
        Token.name,
        Token.secret_hash,
        Token.scopes,
        Token.expires_at,
        Token.last_used_at,
        Token.org_id,
        Token.user_id,
        Owner.name.label("user_name"),
    )
    .join(Owner, Owner.id == Token.user_id)
    .where(Token.secret_hash == bindparam("digest"))
)


def authenticate(session: Session, secret: str) -> Principal:
    """The principal a token secret stands for, or Unauthenticated."""
    digest = hash_secret(secret)
    token = session.connection().execute(_BY_HASH, {"digest": digest}).first()
    if token is None or not hmac.compare_digest(token.secret_hash, digest):
        raise Unauthenticated("invalid or revoked token")
    now = utcnow()
    if token.expires_at is not None and as_utc(token.expires_at) <= now:
        raise Unauthenticated(f"token {token.name!r} has expired")
    if token.last_used_at is None or now - as_utc(token.last_used_at) > _LAST_USE_RESOLUTION:
        session.execute(update(Token).where(Token.id == token.id).values(last_used_at=now))
    scopes = tuple(token.scopes.split())
    return Principal(token.user_id, token.user_name, token.id, token.name, scopes, token.org_id)


def list_tokens(session: Session, user: Owner) -> list[Token]:
    return list(session.scalars(select(Token).where(Token.user_id == user.id).order_by(Token.name)))


def revoke_own(session: Session, principal: Principal) -> None:
    """Revoke the token the principal authenticated with (``anaconda logout``)."""
    token = session.get(Token, principal.token_id)
    if token is None:
        raise NotFound("token already removed")
    session.delete(token)


def revoke_token(session: Session, user: Owner, name: str, org: Owner | None = None) -> None:
    """Revoke the user's token ``name``; with ``org``, only if it was made for that org."""
    token = session.scalar(select(Token).where(Token.user_id == user.id, Token.name == name))
    if token is None or (org is not None and token.org_id != org.id):
        where = f" for {org.name!r}" if org is not None else ""
        raise NotFound(f"user {user.name!r} has no token named {name!r}{where}")
    session.delete(token)
    record(session, user, user.name, "token-revoke", name)
