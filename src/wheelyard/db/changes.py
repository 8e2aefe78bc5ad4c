"""A cheap "has the database changed?" probe, for caches that must never serve stale data.

On SQLite, ``PRAGMA data_version`` on a dedicated connection changes whenever any other
connection (any thread or process) commits: about a microsecond per check.

On PostgreSQL, ``pg_current_snapshot()`` on a dedicated autocommit connection: the snapshot
(xmin, xmax, in-progress ids) differs from the last one read as soon as any transaction that
wrote has ended, on any server; equal snapshots mean the same committed data (PostgreSQL
reuses a snapshot on the same ground). One round trip, with no transaction, instead of a
page's whole unit of work. A snapshot never comes back once it changed, so a page built
after a probe and kept under the probe's version is replaced on the next change. A probe
whose connection fails answers None (callers then take their full path) until it reconnects.

Backends without such a counter return None and callers fall back to validating against the
database.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from typing import Any

from sqlalchemy.engine import make_url

RETRY_AFTER = 1.0  # seconds a PostgreSQL probe whose connection failed answers None


class ChangeProbe:
    """``version()``: a number that changes whenever the database may have changed, or None
    when unknown. PostgreSQL is probed only with ``postgres=True``: its probe is a network
    round trip, so callers run it off the event loop (``remote``)."""

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
        self.remote = self._dsn is not None
        self._pg: Any = None
        self._retry_at = 0.0
        self._lock = threading.Lock()
        self._snapshot: str | None = None
        self._version = 0

    def version(self) -> int | None:
        if self._dsn is not None:
            return self._pg_version()
        if self._path is None:
            return None
        if self._conn is None:
            # Autocommit, read-only use: it never holds a transaction open.
            self._conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def _pg_version(self) -> int | None:
        import psycopg

        with self._lock:  # one connection, used by one caller at a time
            try:
                if self._pg is None:
                    if time.monotonic() < self._retry_at:
                        return None
                    assert self._dsn is not None
                    self._pg = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
                row = self._pg.execute("SELECT pg_current_snapshot()::text").fetchone()
            except psycopg.Error:
                self._drop()
                self._retry_at = time.monotonic() + RETRY_AFTER
                return None
            if row[0] != self._snapshot:
                self._snapshot = row[0]
                self._version += 1
            return self._version

    def _drop(self) -> None:
        # After a failure nothing is known: the next snapshot read counts as a change.
        if self._pg is not None:
            with contextlib.suppress(Exception):  # already broken: closing is best effort
                self._pg.close()
        self._pg = None
        self._snapshot = None
