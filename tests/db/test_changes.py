"""The change probe behind the in-memory page caches: its version holds while nothing is
committed and moves with every commit from any connection (another process, another server),
on SQLite and on a real PostgreSQL; a probe that cannot tell answers None."""

from __future__ import annotations

import asyncio
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
    probe = ChangeProbe(f"sqlite:///{path}", postgres=True)
    first = probe.version()
    assert first is not None and probe.version() == first
    assert asyncio.run(probe.aversion()) == first
    other.execute("INSERT INTO t VALUES (1)")
    assert probe.version() != first
    other.close()


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite:///:memory:", "postgresql+psycopg://u@127.0.0.1:9/db"],
)
def test_no_probe_without_a_counter_or_when_not_asked(url: str) -> None:
    # PostgreSQL is probed only where the caller asked (postgres=True, from the event loop).
    probe = ChangeProbe(url)
    assert probe.version() is None and asyncio.run(probe.aversion()) is None


@pytest.mark.e2e
def test_postgres_moves_with_every_commit_and_only_then(postgres: str) -> None:
    url = new_database(postgres)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    probe = ChangeProbe(url, postgres=True)
    assert probe.version() is None  # the synchronous probe stays SQLite's

    async def run() -> None:
        # Other tests' servers may write to this cluster meanwhile: a probe only ever errs
        # towards "changed", so stability is checked as "mostly", changes exactly.
        stable = 0
        for _ in range(20):
            stable += await probe.aversion() == await probe.aversion()
        assert stable > 0
        with psycopg.connect(dsn, autocommit=True) as writer:
            writer.execute("CREATE TABLE t (x INTEGER)")
            first = await probe.aversion()
            assert first is not None
            writer.execute("INSERT INTO t VALUES (1)")
            second = await probe.aversion()
            assert second is not None and second != first

        # A write in flight may move the version; its commit must move it again, so a page
        # built while it ran (from the old data) is never kept past the commit.
        with psycopg.connect(dsn) as writer:
            writer.execute("INSERT INTO t VALUES (2)")
            during = await probe.aversion()
            writer.commit()
            after = await probe.aversion()
            assert after is not None and after != during

        # Callers that arrive together share one query (sent after they all arrived).
        sent = probe._sent
        answers = await asyncio.gather(*(probe.aversion() for _ in range(20)))
        assert len(set(answers)) == 1 and answers[0] is not None
        assert probe._sent - sent <= 2

    asyncio.run(run())


def test_postgres_unreachable_is_unknown() -> None:
    probe = ChangeProbe(f"postgresql+psycopg://u@127.0.0.1:{free_port()}/db", postgres=True)

    async def run() -> None:
        assert await probe.aversion() is None
        sent = probe._sent
        assert await probe.aversion() is None  # backing off: no new connection for a while
        assert probe._pg is None and probe._sent == sent + 1

    asyncio.run(run())
