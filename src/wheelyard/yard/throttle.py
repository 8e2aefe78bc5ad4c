"""Throttling of failed authentications: too many distinct bad credentials from one client or
for one user within a window, and further attempts answer 429 with ``Retry-After``.

Only *distinct* bad credentials count, so a CI job that keeps sending one stale token does not
lock out everyone behind its proxy, while guessing (which needs a new secret per attempt) is
slowed to ``limit`` tries per window. While a key is blocked every credentialed attempt is
refused before it is checked, so a correct guess cannot be told apart from a wrong one.

The counts are the yard's, not a process's: failures go to the ``auth_failures`` table that
every worker and every server shares, so ``serve --workers N`` and several servers behind a
proxy keep the one limit. A check is one indexed read in the request's own unit of work; a
failure is one unit of its own that no page cache depends on (``caches=False``: on
PostgreSQL it makes no server drop its pages). Rows older than the window are deleted as
failures come. Credentials are fingerprinted with a key that lives only in this process's
memory, so the table never holds anything a guess could be tested against offline; the price
is that one stale credential retried through N processes counts up to N times, far below any
sensible limit.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from wheelyard.db.models import auth_failures
from wheelyard.db.unit import unit_of_work
from wheelyard.errors import TooManyRequests

_KEY = secrets.token_bytes(32)  # fingerprints are keyed per process: never a plain hash of input


def fingerprint(*parts: str) -> str:
    message = "\0".join(parts).encode("utf-8", "surrogatepass")
    return hmac.new(_KEY, message, hashlib.sha256).hexdigest()[:32]


# Built once: the check runs on every credentialed request (Core, no ORM, one indexed read).
_RECENT = (
    select(func.max(auth_failures.c.at))
    .where(auth_failures.c.subject == bindparam("who"), auth_failures.c.at > bindparam("since"))
    .group_by(auth_failures.c.credential)
)


def subject(kind: str, key: str) -> str:
    """Whose failures a row counts, the same in every process (not a secret: an address or
    a user name, kept at a fixed width)."""
    message = f"{kind}\0{key}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(message).hexdigest()[:32]


class AuthThrottle:
    """The two limits the yard keeps: per client address, and per user name (passwords)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        per_client: int,
        per_user: int,
        window: float,
        clock: Callable[[], float] = time.time,  # wall clock: servers on several hosts share it
    ) -> None:
        self.sessions = sessions
        self.per_client = per_client
        self.per_user = per_user
        self.window = window
        self.clock = clock

    def _retry_after(self, session: Session, who: str, limit: int, now: float) -> int | None:
        rows = session.connection().execute(_RECENT, {"who": who, "since": now - self.window})
        times = sorted(float(row[0]) for row in rows)
        if len(times) < limit:
            return None
        oldest = times[len(times) - limit]
        return max(1, math.ceil(oldest + self.window - now))

    def check(self, session: Session, client: str, user: str | None = None) -> None:
        """Refuse, before any credential is checked, while the client or user is blocked
        (read in the caller's unit of work)."""
        now = self.clock()
        wait = self._retry_after(session, subject("client", client), self.per_client, now)
        if wait is not None:
            raise TooManyRequests(
                f"too many failed authentications from this client; retry in {wait} seconds",
                wait,
            )
        if user is not None:
            wait = self._retry_after(session, subject("user", user.lower()), self.per_user, now)
            if wait is not None:
                raise TooManyRequests(
                    f"too many failed logins for this user; retry in {wait} seconds", wait
                )

    def failed(self, client: str, credential: str, user: str | None = None) -> None:
        """Count a bad credential for the client (and the user name), in a unit of its own:
        the caller's unit is about to roll back."""
        print_ = fingerprint(user.lower() if user else "", credential)
        now = self.clock()
        rows = [{"subject": subject("client", client), "credential": print_, "at": now}]
        if user is not None:
            rows.append({"subject": subject("user", user.lower()), "credential": print_, "at": now})
        expired = delete(auth_failures).where(auth_failures.c.at <= now - self.window)
        with unit_of_work(self.sessions, caches=False) as unit:
            unit.session.execute(expired)
            unit.session.execute(insert(auth_failures), rows)
