"""A cheap "has the database changed?" probe, for caches that must never serve stale data.

On SQLite, ``PRAGMA data_version`` on a dedicated connection changes whenever any other
connection (any thread or process) commits: about a microsecond per check. Backends without
such a counter return None and callers fall back to validating against the database.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.engine import make_url


class ChangeProbe:
    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self._path = url.database if url.get_backend_name() == "sqlite" else None
        if self._path in ("", ":memory:"):
            self._path = None
        self._conn: sqlite3.Connection | None = None

    def version(self) -> int | None:
        if self._path is None:
            return None
        if self._conn is None:
            # Autocommit, read-only use: it never holds a transaction open.
            self._conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])
