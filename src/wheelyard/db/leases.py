"""Cache leases on PostgreSQL: a write answers only once every serving process dropped what
it changed, so readers with a live lease reuse pages with no round trip at all.

Each serving process (``Lease``) LISTENs on ``CHANNEL`` over one autocommit connection and
holds a row in ``cache_leases``: (server id, acknowledged change number, expiry on
PostgreSQL's clock), renewed every ``RENEW`` seconds. Every notification it receives bumps its
cache generation (``changed()``) before anything else runs, and its next statement
acknowledges the notification's number. A committing unit of work that wrote
(``db.unit``, the one place commits happen) does, on the session it committed on:

1. before COMMIT: ``NOTIFY`` in its own transaction (delivered atomically with the commit,
   so even a writer killed right after its commit invalidates every cache, eventually);
2. after COMMIT: draws a change number ``n`` from the ``cache_change_numbers`` sequence and
   notifies it (``announce``);
3. waits until every lease row has ``acked >= n`` (``pending``), deleting on the way rows
   that are expired on PostgreSQL's clock and have not acked; only then does the request (or
   command) answer.

Why a reader never serves a page older than a write that has answered:

* A number is drawn after the writer's commit C. A process acks ``a`` only after bumping its
  generation on a notification carrying ``a``, so after C; or, when it (re)joins, ``a`` is
  the sequence's value read after its LISTEN took effect, and it bumps after reading it:
  after C again, as ``n <= a`` was drawn before. Pages are kept under the generation current
  when they were started, so every page kept under a generation past the bump was read from
  the database after C. (Numbers are drawn after commits, not in them: a sequence gives
  numbers in the order of drawing, not of commits.)
* A process serves from its cache only while its lease is valid on its own clock (``_clock``,
  monotonic and counting a suspended host's sleep): until ``sent + TERM - MARGIN``, ``sent``
  being when it sent its last renewal that found its row. PostgreSQL set that row's expiry to
  its ``now()`` (at or after ``sent``) + TERM, so the process stops trusting its lease before
  PostgreSQL considers it expired (given clocks that run at the same rate, within MARGIN). A
  writer therefore skips a lease only after that process stopped using its cache. It deletes
  such a row in the same statement, and the process's renewal then finds no row (PostgreSQL
  serialises the UPDATE and the DELETE on the row), so it rejoins, with a bump, before it
  trusts its cache again: what it missed is dropped.
* The writer's own process is moved by the writer itself right after its commit
  (``moved_here``) and is not waited for: a unit of work run on the event loop blocks the
  loop that would acknowledge.
* A process whose connection fails stops using its cache at once and goes back to the
  per-request probe (``db.changes``) until it has listened and joined again.

The wait is bounded by the leases: an expired row is deleted, a live one acknowledges within a
round trip. ``WAIT_LIMIT`` only guards against a bug (logged). Units that wrote pay three
round trips more (the check before COMMIT, the announcement, one poll) and the slowest
acknowledgement; units that only read pay nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

log = logging.getLogger("wheelyard.db")

# Monotonic and still counting while the host sleeps (CLOCK_MONOTONIC stops then, while
# PostgreSQL's clock goes on: a resumed server would trust a lease that expired meanwhile).
_clock: Callable[[], float] = (
    functools.partial(time.clock_gettime, time.CLOCK_BOOTTIME)
    if hasattr(time, "CLOCK_BOOTTIME")
    else time.monotonic
)

CHANNEL = "wheelyard_changes"  # spelled out in the SQL below
APPLICATION = "wheelyard-lease"  # application_name of the listening connections
TERM = 3.0  # seconds a lease lasts on PostgreSQL's clock after each renewal
RENEW = 1.0  # seconds between renewals when nothing changes
MARGIN = 0.5  # seconds a process stops trusting its lease before PostgreSQL expires it
RETRY_AFTER = 1.0  # seconds before a failed listener connects again
TIMEOUT = 2.0  # seconds for connecting or for one statement of the listener
WAIT_LIMIT = 2 * TERM + 4.0  # a writer's wait is bounded by TERM; this only guards against bugs

_WROTE = text(
    "SELECT pg_notify('wheelyard_changes', '') WHERE pg_current_xact_id_if_assigned() IS NOT NULL"
)
_ANNOUNCE = text(
    "SELECT s.n, pg_notify('wheelyard_changes', s.n::text)::text"
    " FROM (SELECT nextval('cache_change_numbers') AS n) s"
)
_PENDING = text(
    "WITH gone AS (DELETE FROM cache_leases WHERE acked < :n AND expires < clock_timestamp()"
    " RETURNING server)"
    " SELECT count(*) FROM cache_leases WHERE acked < :n AND server <> ALL(:local)"
    " AND server NOT IN (SELECT server FROM gone)"
)
_JOIN = (
    "INSERT INTO cache_leases (server, acked, expires)"
    " SELECT %(server)s, CASE WHEN is_called THEN last_value ELSE 0 END,"
    " now() + make_interval(secs => %(term)s) FROM cache_change_numbers"
    " ON CONFLICT (server) DO UPDATE SET acked = EXCLUDED.acked, expires = EXCLUDED.expires"
    " RETURNING acked"
)
_RENEW = (
    "UPDATE cache_leases SET acked = GREATEST(acked, %(acked)s),"
    " expires = now() + make_interval(secs => %(term)s) WHERE server = %(server)s"
)
_LEAVE = "DELETE FROM cache_leases WHERE server = %(server)s"


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def notify_if_wrote(session: Session) -> bool:
    """Before COMMIT: whether this transaction wrote (it has a transaction id), and if so
    queue a notification that PostgreSQL delivers with the commit."""
    return session.execute(_WROTE).first() is not None


def announce(session: Session) -> int:
    """After COMMIT: draw a change number and notify it (the caller commits); returns it."""
    return int(session.execute(_ANNOUNCE).scalar_one())


def pending(session: Session, number: int) -> int:
    """How many unexpired leases of other processes have not acknowledged ``number`` yet;
    expired ones that have not are deleted (the caller commits), so their processes rejoin
    before trusting a page. This process's own caches were moved by ``moved_here``."""
    local = [lease.server for lease in _LOCAL]
    return int(session.execute(_PENDING, {"n": number, "local": local}).scalar_one())


def moved_here() -> None:
    """After a commit, from any thread: move this process's leased caches at once (its own
    listener may be unable to: a unit of work run on the event loop blocks it)."""
    for lease in list(_LOCAL):
        lease.changed()


def _number(payload: str) -> int:
    return int(payload) if payload.isdigit() else 0


_LOCAL: list[Lease] = []  # this process's leases, started and not closed


class Lease:
    """This process's lease: ``valid()`` while its cache may be trusted with no round trip.

    ``changed`` is called whenever something may have changed: on the event loop for a
    notification, or a (re)join that may have missed some; from a writer's thread for a write
    this process committed (``moved_here``). It must give a version never used before.
    """

    def __init__(self, dsn: str, changed: Callable[[], None]) -> None:
        self._dsn = dsn
        self.changed = changed
        self.server = uuid.uuid4().hex
        self._valid_until = 0.0
        self._seen = 0  # the highest change number this process has bumped for
        self._conn: Any = None  # psycopg.AsyncConnection
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def valid(self) -> bool:
        return _clock() < self._valid_until

    def start(self) -> None:
        """Start listening (once), on the running loop."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._run())
            _LOCAL.append(self)

    async def close(self) -> None:
        """Stop listening and give the lease up, so that writers need not wait for it."""
        self._closed = True
        self._valid_until = 0.0
        if self in _LOCAL:
            _LOCAL.remove(self)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.execute(_LEAVE, {"server": self.server}), TIMEOUT)
            with contextlib.suppress(Exception):
                await conn.close()

    async def _run(self) -> None:
        import psycopg  # only servers on PostgreSQL need it

        warned = False
        while not self._closed:
            try:
                await self._listen()
            except (psycopg.Error, OSError, asyncio.TimeoutError) as exc:
                if not warned:  # e.g. the database restarting; logged once, not every second
                    log.warning("cache lease lost, probing per request: %s", exc)
                    warned = True
            except Exception:  # a bug: never trust the cache, keep trying
                log.exception("cache lease failed, probing per request")
            self._valid_until = 0.0  # nothing is known about what happened meanwhile
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
            await asyncio.sleep(RETRY_AFTER)

    async def _listen(self) -> None:
        import psycopg

        self._conn = conn = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(
                self._dsn, autocommit=True, application_name=APPLICATION
            ),
            TIMEOUT,
        )
        await asyncio.wait_for(conn.execute(f"LISTEN {CHANNEL}"), TIMEOUT)
        sent = await self._join(conn)
        while True:
            timeout = max(0.0, sent + RENEW - _clock())
            async for note in conn.notifies(timeout=timeout, stop_after=1):
                # The bump comes first: the acknowledgement below may only follow it.
                self._seen = max(self._seen, _number(note.payload))
                self.changed()
            sent = _clock()
            params = {"acked": self._seen, "term": TERM, "server": self.server}
            cursor = await asyncio.wait_for(conn.execute(_RENEW, params), TIMEOUT)
            if cursor.rowcount == 1:
                self._valid_until = sent + TERM - MARGIN
            else:  # a writer found it expired and went on without it: what it missed is lost
                self._valid_until = 0.0
                sent = await self._join(conn)

    async def _join(self, conn: Any) -> float:
        # LISTEN is in effect: every number drawn from now on will be delivered; any drawn
        # before is at most the sequence's value read here, and the bump below covers it.
        sent = _clock()
        params = {"server": self.server, "term": TERM}
        cursor = await asyncio.wait_for(conn.execute(_JOIN, params), TIMEOUT)
        row = await cursor.fetchone()
        self._seen = max(self._seen, int(row[0]))
        self.changed()
        self._valid_until = sent + TERM - MARGIN
        return sent
