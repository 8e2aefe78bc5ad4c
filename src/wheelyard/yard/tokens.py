"""API tokens: minted once, stored as a SHA-256 hash, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import Owner, Token, as_utc, utcnow
from wheelyard.yard.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from wheelyard.yard.scopes import parse_scopes

PREFIX = "wy_"
_LAST_USE_RESOLUTION = timedelta(minutes=1)  # don't write on every request


def hash_secret(secret: str) -> str:
    # Tokens carry 256 random bits, so a fast unsalted hash is safe and allows indexed look-up.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a user, through one of their tokens."""

    user_id: int
    user_name: str
    token_id: int
    token_name: str
    scopes: tuple[str, ...]


def create_token(
    session: Session,
    user: Owner,
    name: str,
    scopes: str | list[str],
    max_age: int | None = None,
    replace: bool = False,
) -> tuple[Token, str]:
    """Mint a token; returns the row and the secret, which is never stored or shown again."""
    if not name or len(name) > 200:
        raise InvalidInput("a token needs a name of 1-200 characters")
    if max_age is not None and max_age <= 0:
        raise InvalidInput("--max-age must be a positive number of seconds")
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
    )
    session.add(token)
    session.flush()
    return token, secret


def authenticate(session: Session, secret: str) -> Principal:
    """The principal a token secret stands for, or Unauthenticated."""
    digest = hash_secret(secret)
    token = session.scalar(select(Token).where(Token.secret_hash == digest))
    if token is None or not hmac.compare_digest(token.secret_hash, digest):
        raise Unauthenticated("invalid or revoked token")
    now = utcnow()
    if token.expires_at is not None and as_utc(token.expires_at) <= now:
        raise Unauthenticated(f"token {token.name!r} has expired")
    if token.last_used_at is None or now - as_utc(token.last_used_at) > _LAST_USE_RESOLUTION:
        token.last_used_at = now
    user = token.user
    return Principal(user.id, user.name, token.id, token.name, token.scope_list)


def list_tokens(session: Session, user: Owner) -> list[Token]:
    return list(session.scalars(select(Token).where(Token.user_id == user.id).order_by(Token.name)))


def revoke_token(session: Session, user: Owner, name: str) -> None:
    token = session.scalar(select(Token).where(Token.user_id == user.id, Token.name == name))
    if token is None:
        raise NotFound(f"user {user.name!r} has no token named {name!r}")
    session.delete(token)
