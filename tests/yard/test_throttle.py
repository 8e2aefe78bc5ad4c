"""The failed-authentication throttle on a real database (SQLite and PostgreSQL: the
``sessions`` fixture): distinct bad credentials count, one repeated does not, a block names
when to retry and lifts after the window, and the counts belong to the yard (two throttles on
one database, as two workers or two servers, share them). The several-servers case with real
processes is in ``tests/e2e/test_several_servers.py``."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from wheelyard.db.models import auth_failures
from wheelyard.db.unit import unit_of_work
from wheelyard.errors import TooManyRequests
from wheelyard.yard.throttle import AuthThrottle

WINDOW = 300.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _check(throttle: AuthThrottle, client: str, user: str | None = None) -> int | None:
    """None when allowed, else the Retry-After seconds."""
    with unit_of_work(throttle.sessions) as unit:
        try:
            throttle.check(unit.session, client, user)
        except TooManyRequests as exc:
            return exc.retry_after
    return None


def _rows(sessions: sessionmaker[Session]) -> int:
    with unit_of_work(sessions) as unit:
        return int(unit.session.scalar(select(func.count()).select_from(auth_failures)) or 0)


def test_distinct_bad_credentials_block_the_client_until_the_window_passes(
    sessions: sessionmaker[Session],
) -> None:
    clock = Clock()
    throttle = AuthThrottle(sessions, 3, 10, WINDOW, clock)
    for n in range(2):
        throttle.failed("10.0.0.1", f"wy_guess{n}")
        clock.now += 10
    assert _check(throttle, "10.0.0.1") is None
    throttle.failed("10.0.0.1", "wy_guess2")  # the third distinct one, at +20 s
    # Blocked until the first of the three (at +0 s) leaves the window.
    assert _check(throttle, "10.0.0.1") == WINDOW - 20
    assert _check(throttle, "10.0.0.2") is None  # other clients are not
    clock.now += WINDOW - 20 - 1
    assert _check(throttle, "10.0.0.1") == 1
    clock.now += 1
    assert _check(throttle, "10.0.0.1") is None


def test_one_credential_repeated_counts_once(sessions: sessionmaker[Session]) -> None:
    clock = Clock()
    throttle = AuthThrottle(sessions, 3, 10, WINDOW, clock)
    for _ in range(20):
        throttle.failed("10.0.0.1", "wy_stale")
        clock.now += 1
    assert _check(throttle, "10.0.0.1") is None


def test_wrong_passwords_block_the_user_from_every_client(sessions: sessionmaker[Session]) -> None:
    clock = Clock()
    throttle = AuthThrottle(sessions, 30, 2, WINDOW, clock)
    throttle.failed("10.0.0.1", "hunter1", "Alice")
    throttle.failed("10.0.0.2", "hunter2", "alice")  # names are one user, whatever the case
    assert _check(throttle, "10.0.0.3", "ALICE") == WINDOW
    assert _check(throttle, "10.0.0.3", "bob") is None
    assert _check(throttle, "10.0.0.1") is None  # the clients themselves are below 30


def test_the_counts_are_the_yards_not_a_throttles(sessions: sessionmaker[Session]) -> None:
    """Two throttles on one database stand for two workers or two servers: failures through
    either count toward one limit, and a block through one holds at the other."""
    clock = Clock()
    one = AuthThrottle(sessions, 4, 10, WINDOW, clock)
    two = AuthThrottle(sessions, 4, 10, WINDOW, clock)
    for n in range(4):
        (one if n % 2 else two).failed("10.0.0.9", f"wy_guess{n}")
    assert _check(one, "10.0.0.9") == WINDOW
    assert _check(two, "10.0.0.9") == WINDOW


def test_rows_older_than_the_window_are_deleted_as_failures_come(
    sessions: sessionmaker[Session],
) -> None:
    clock = Clock()
    throttle = AuthThrottle(sessions, 30, 10, WINDOW, clock)
    for n in range(5):
        throttle.failed(f"10.0.1.{n}", "wy_guess", "carol")  # a client row and a user row
    assert _rows(sessions) == 10
    clock.now += WINDOW
    throttle.failed("10.0.2.1", "wy_other")
    assert _rows(sessions) == 1


def test_the_table_holds_no_credential_or_address_in_the_clear(
    sessions: sessionmaker[Session],
) -> None:
    throttle = AuthThrottle(sessions, 30, 10, WINDOW, Clock())
    throttle.failed("192.0.2.7", "wy_secret-guess", "dave")
    with unit_of_work(sessions) as unit:
        rows = unit.session.execute(select(auth_failures)).all()
    text = repr(rows)
    assert len(rows) == 2
    assert not any(part in text for part in ("192.0.2.7", "secret-guess", "dave"))
