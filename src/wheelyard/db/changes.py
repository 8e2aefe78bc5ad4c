"""A cheap "has the database changed?" probe, for caches that must never serve stale data.

On SQLite, ``PRAGMA data_version`` on a dedicated connection changes whenever any other
connection (any thread or process) commits: about a microsecond per check (``version``).

On PostgreSQL (``aversion``, for the event loop, when asked with ``postgres=True``): while this
process holds a cache lease (``db.leases``: writers wait until it has dropped what they changed
before they answer), a generation bumped on every change notification, with no round trip at
all. Without a valid lease (connection lost, schema without leases, a renewal late) it probes
per request: ``pg_current_snapshot()`` on a dedicated autocommit connection. The snapshot
(xmin, xmax, in-progress ids) differs from the last one read as soon as any transaction that
wrote has ended, on any server; equal snapshots mean the same committed data (PostgreSQL itself
reuses a snapshot on that ground). A snapshot never comes back once it changed, so a page built
after a probe and kept under the probe's version is replaced on the next change. One query of
about 50 µs, awaited on the loop (a worker thread's two hand-offs cost more than the query on a
busy machine); one query at a time, and every caller that arrived before it was sent shares its
answer. A failed or slow probe answers None (callers then take their full path) and the next
ones retry after ``RETRY_AFTER``. Switching between the lease and the probe moves the version,
so no page kept under one is trusted under the other.

Backends without such a counter answer None and callers fall back to validating against the
database.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import time
from typing import Any

from sqlalchemy.engine import make_url

from wheelyard.db.leases import Lease

RETRY_AFTER = 1.0  # seconds a PostgreSQL probe whose connection failed answers None
TIMEOUT = 2.0  # seconds for connecting or for one probe query


class ChangeProbe:
    """A number that changes whenever the database may have changed, or None when unknown."""

    def __init__(self, database_url: str, postgres: bool = False) -> None:
        url = make_url(database_url)
        backend = url.get_backend_name()
        self._path = url.database if backend == "sqlite" else None
        if self._path in ("", ":memory:"):
            self._path = None
        self._conn: sqlite3.Connection | None = None
        # libpq's own URI form of the same database (psycopg's driver name dropped).
        self._dsn = (
            url.set(drivername="postgresql").render_as_string(hide_password=False)
            if postgres and backend == "postgresql" and url.get_driver_name() == "psycopg"
            else None
        )
        self._pg: Any = None  # psycopg.AsyncConnection, on the loop that first probed
        self._turn: asyncio.Lock | None = None
        self._sent = 0  # probe queries sent so far
        self._answered = 0  # the number of the last one answered, and its answer:
        self._answer: int | None = None
        self._retry_at = 0.0
        self._snapshot: str | None = None
        self._ticks = itertools.count(1)
        self._version = 0
        self._lease = Lease(self._dsn, self._bump) if self._dsn is not None else None
        self._leased = False  # whether the last answer came from the lease

    def version(self) -> int | None:
        """SQLite's data version (None on other backends): for any thread."""
        if self._path is None:
            return None
        if self._conn is None:
            # Autocommit, read-only use: it never holds a transaction open.
            self._conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    async def aversion(self) -> int | None:
        """The version, from the event loop: SQLite's, or PostgreSQL's snapshot when asked."""
        dsn, lease = self._dsn, self._lease
        if dsn is None or lease is None:
            return self.version()
        lease.start()
        leased = lease.valid()
        if leased != self._leased:  # a page kept under one mode is not trusted by the other
            self._leased = leased
            self._bump()
            self._snapshot = None
        if leased:
            return self._version
        arrived = self._sent  # only a query sent after this moment may answer for it
        if self._turn is None:
            self._turn = asyncio.Lock()
        async with self._turn:
            if self._answered > arrived:  # sent (and answered) while this caller waited
                return self._answer
            self._sent += 1
            ticket = self._sent
            answer = await self._probe(dsn)
            self._answered, self._answer = ticket, answer
            return answer

    def _bump(self) -> None:
        # From the loop or a writer's thread: next() hands each caller a value never used
        # before, and whichever lands last is new too (an increment could lose one).
        self._version = next(self._ticks)

    async def aclose(self) -> None:
        """Give up the lease and close the connections (at shutdown)."""
        if self._lease is not None:
            await self._lease.close()
        await self._drop()

    async def _probe(self, dsn: str) -> int | None:
        import psycopg

        try:
            if self._pg is None:
                if time.monotonic() < self._retry_at:
                    return None
                self._pg = await asyncio.wait_for(
                    psycopg.AsyncConnection.connect(dsn, autocommit=True), TIMEOUT
                )
            cursor = await asyncio.wait_for(
                self._pg.execute("SELECT pg_current_snapshot()::text"), TIMEOUT
            )
            row = await cursor.fetchone()
        except (psycopg.Error, OSError, asyncio.TimeoutError):
            await self._drop()
            self._retry_at = time.monotonic() + RETRY_AFTER
            return None
        if row[0] != self._snapshot:
            self._snapshot = row[0]
            self._bump()
        return self._version

    async def _drop(self) -> None:
        # After a failure nothing is known: the next snapshot read counts as a change.
        if self._pg is not None:
            with contextlib.suppress(Exception):  # already broken: closing is best effort
                await self._pg.close()
        self._pg = None
        self._snapshot = None
