"""The change probe behind the in-memory page caches: its version holds while nothing is
committed and moves with every commit from any connection (another process, another server),
on SQLite and on a real PostgreSQL; a probe that cannot tell answers None."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from tests.helpers import free_port
from tests.postgres import new_database
from wheelyard.db.changes import ChangeProbe


def test_sqlite_moves_with_commits_of_other_connections(tmp_path: Path) -> None:
    path = tmp_path / "yard.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE t (x INTEGER)")
    probe = ChangeProbe(f"sqlite:///{path}")
    first = probe.version()
    assert first is not None and probe.version() == first and not probe.remote
    other.execute("INSERT INTO t VALUES (1)")
    assert probe.version() != first
    other.close()


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite:///:memory:", "postgresql+psycopg://u@127.0.0.1:9/db"],
)
def test_no_probe_without_a_counter_or_when_not_asked(url: str) -> None:
    # PostgreSQL is probed only where the caller asked (postgres=True: off the event loop).
    probe = ChangeProbe(url)
    assert probe.version() is None and not probe.remote


@pytest.mark.e2e
def test_postgres_moves_with_every_commit_and_only_then(postgres: str) -> None:
    url = new_database(postgres)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    probe = ChangeProbe(url, postgres=True)
    assert probe.remote
    # Other tests' servers may write to this cluster meanwhile: a probe only ever errs
    # towards "changed", so stability is checked as "mostly", changes exactly.
    assert sum(probe.version() == probe.version() for _ in range(20)) > 0
    with psycopg.connect(dsn, autocommit=True) as writer:
        writer.execute("CREATE TABLE t (x INTEGER)")
        first = probe.version()
        assert first is not None
        writer.execute("INSERT INTO t VALUES (1)")
        second = probe.version()
        assert second is not None and second != first

    # A write in flight may move the version; its commit must move it again, so a page
    # built while it ran (from the old data) is never kept past the commit.
    with psycopg.connect(dsn) as writer:
        writer.execute("INSERT INTO t VALUES (2)")
        during = probe.version()
        writer.commit()
        after = probe.version()
        assert after is not None and after != during


def test_postgres_unreachable_is_unknown() -> None:
    probe = ChangeProbe(f"postgresql+psycopg://u@127.0.0.1:{free_port()}/db", postgres=True)
    assert probe.remote and probe.version() is None
    assert probe.version() is None  # backing off: no new connection attempt for a while
