"""Stale PostgreSQL connections without a pre-ping round trip (db.session): a connection whose
backend was terminated is replaced at checkout, a read that loses its connection mid-way runs
once more, and a read-only unit (autocommit: no BEGIN/COMMIT) refuses to write. Real
PostgreSQL, real ``pg_terminate_backend``."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests.postgres import new_database
from wheelyard.db.session import make_engine, make_sessionmaker, read_unit
from wheelyard.db.unit import run_unit

pytestmark = pytest.mark.e2e


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


# The backends of a database (one of them, given its pid), never the asking connection.
_TERMINATE = """WITH targets AS MATERIALIZED (SELECT pid FROM pg_stat_activity
  WHERE datname = %(db)s AND pid <> pg_backend_pid() AND (%(pid)s::int IS NULL OR pid = %(pid)s))
  SELECT pid FROM targets WHERE pg_terminate_backend(pid)"""
_LEFT = "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%(pids)s)"


def _terminate(admin: str, database: str, pid: int | None = None) -> int:
    """Terminate the backends of ``database`` (or just ``pid``) and wait until they are gone.

    Waits for exactly the terminated backends: a yard's lease listener reconnects at once, so
    the database is rarely without a backend for long."""
    args = {"db": database, "pid": pid}
    with psycopg.connect(_dsn(admin), autocommit=True) as conn:
        pids = [row[0] for row in conn.execute(_TERMINATE, args).fetchall()]
        deadline = time.monotonic() + 10
        while (conn.execute(_LEFT, {"pids": pids}).fetchone() or (0,))[0]:
            assert time.monotonic() < deadline, "backends still there"
            time.sleep(0.05)
    return len(pids)


@pytest.fixture
def engine(postgres: str) -> Engine:
    engine = make_engine(new_database(postgres))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)"))
        conn.execute(text("INSERT INTO notes (body) VALUES ('first')"))
    return engine


def _count(session: Session) -> int:
    return int(session.execute(text("SELECT count(*) FROM notes")).scalar_one())


def _add(session: Session, body: str) -> None:
    session.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": body})


def test_no_pre_ping_round_trip(engine: Engine) -> None:
    assert engine.pool._pre_ping is False  # the checkout check is local (db.session)


def test_terminated_connections_are_replaced_at_checkout(postgres: str, engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    # Two pooled connections: a unit holds one while another runs.
    with sessions() as held:
        held.execute(text("SELECT 1"))
        assert run_unit(sessions, _count) == 1
        held.rollback()
    database = engine.url.database
    assert database is not None
    assert _terminate(postgres, database) >= 2
    # The very next units, a read and a write, succeed on fresh connections: no retry needed.
    assert read_unit(sessions, _count) == 1
    run_unit(sessions, _add, "after the restart")
    assert read_unit(sessions, _count) == 2
    _terminate(postgres, database)
    run_unit(sessions, _add, "a write first")  # the first unit after the termination writes
    assert run_unit(sessions, _count) == 3
    engine.dispose()


def test_a_read_that_loses_its_connection_runs_again(postgres: str, engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    database = engine.url.database
    assert database is not None
    attempts: list[int] = []

    def read(session: Session) -> int:
        # The connection passed the checkout check; its backend dies before the first query.
        pid = session.connection().connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        attempts.append(pid)
        if len(attempts) == 1:
            assert _terminate(postgres, database, pid) == 1
        return _count(session)

    assert read_unit(sessions, read) == 1
    assert len(attempts) == 2 and attempts[0] != attempts[1]  # again, on a fresh connection
    # A write is not run again: the failure is the caller's to see.
    writes: list[int] = []

    def write(session: Session) -> None:
        pid = session.connection().connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        writes.append(pid)
        _terminate(postgres, database, pid)
        _add(session, "lost")

    with pytest.raises(DBAPIError) as lost:
        run_unit(sessions, write)
    assert lost.value.connection_invalidated and len(writes) == 1
    assert read_unit(sessions, _count) == 1
    engine.dispose()


def test_a_read_unit_refuses_to_write(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with pytest.raises(RuntimeError, match="may only SELECT"):
        read_unit(sessions, _add, "sneaked in")
    assert read_unit(sessions, _count) == 1  # nothing was written (autocommit would keep it)
    engine.dispose()
