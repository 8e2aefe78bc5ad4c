"""Browser sessions: a password login opens one (a random cookie secret, stored hashed, with
its own CSRF form token); it acts as its user with every scope, like the user at the CLI, and
ends on log-out or expiry. Services never commit: the request handler does."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from wheelyard.db.models import Owner, WebSession, as_utc, utcnow
from wheelyard.yard.accounts import login
from wheelyard.yard.throttle import AuthThrottle
from wheelyard.yard.tokens import Principal, hash_secret

LIFETIME = timedelta(hours=12)
SESSION_TOKEN = "web session"  # noqa: S105  # the token name a session's principal carries in messages


@dataclass(frozen=True)
class Visitor:
    """A logged-in browser: its user, the principal it acts as, and its form token."""

    user: Owner
    principal: Principal
    csrf: str


def open_session(
    session: Session, throttle: AuthThrottle, client: str, name: str, password: str
) -> tuple[str, Owner]:
    """Check the password (throttled per client and per user name, like token failures) and
    open a session; returns the cookie secret and the user."""
    throttle.check(session, client, name)
    try:
        user = login(session, name, password)
    except Exception:
        throttle.failed(client, password, name)
        raise
    secret = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            secret_hash=hash_secret(secret),
            user_id=user.id,
            csrf=secrets.token_urlsafe(32),
            expires_at=utcnow() + LIFETIME,
        )
    )
    # Expired sessions of this user go as a new one comes: the table never grows unbounded.
    session.execute(
        delete(WebSession).where(WebSession.user_id == user.id, WebSession.expires_at < utcnow())
    )
    return secret, user


def visitor_of(session: Session, secret: str | None) -> Visitor | None:
    """The visitor a cookie secret stands for; None when absent, unknown or expired."""
    if not secret:
        return None
    digest = hash_secret(secret)
    row = session.get(WebSession, digest)
    if row is None or not hmac.compare_digest(row.secret_hash, digest):
        return None
    if as_utc(row.expires_at) <= utcnow():
        return None
    user = session.get(Owner, row.user_id)
    if user is None:
        return None
    principal = Principal(user.id, user.name, 0, SESSION_TOKEN, ("all",))
    return Visitor(user, principal, row.csrf)


def csrf_ok(visitor: Visitor | None, sent: str | None) -> bool:
    return visitor is not None and bool(sent) and hmac.compare_digest(visitor.csrf, str(sent))


def close_session(session: Session, secret: str | None) -> None:
    if secret:
        session.execute(delete(WebSession).where(WebSession.secret_hash == hash_secret(secret)))


def sessions_of(session: Session, user: Owner) -> int:
    """How many live sessions the user has (shown on the tokens page)."""
    rows = session.scalars(
        select(WebSession.secret_hash).where(
            WebSession.user_id == user.id, WebSession.expires_at > utcnow()
        )
    ).all()
    return len(rows)
