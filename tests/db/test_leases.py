"""Cache leases on a real PostgreSQL: a unit of work that wrote answers only after every
leased process moved its version; read-only units draw no change number; a lease whose
process stopped answering holds writers back only until it expires, and is then revoked; a
process whose listening connection is cut stops trusting its cache at once; a cache-neutral
unit's write moves nothing."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import psycopg
import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.postgres import change_numbers_drawn, new_database
from wheelyard.db import leases
from wheelyard.db.changes import ChangeProbe
from wheelyard.db.models import Owner, auth_failures
from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.db.unit import unit_of_work

T = TypeVar("T")


class Loop:
    """An event loop in a thread, as a server runs its probe, while the test writes."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def db(postgres: str) -> Iterator[tuple[str, Engine, sessionmaker[Session]]]:
    url = new_database(postgres)
    engine = make_engine(url)
    migrate(engine)
    yield url, engine, make_sessionmaker(engine)
    engine.dispose()


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _leased(loop: Loop, probe: ChangeProbe) -> None:
    """Wait until the probe answers from its lease."""
    deadline = time.monotonic() + 20
    while not (probe._lease is not None and probe._lease.valid()):
        assert time.monotonic() < deadline, "the lease was never taken"
        loop.run(probe.aversion())
        time.sleep(0.05)
    loop.run(probe.aversion())  # the switch to the lease moves the version once


def _add_owner(sessions: sessionmaker[Session], name: str) -> None:
    with unit_of_work(sessions) as unit:
        unit.session.add(Owner(name=name, kind="user"))


@pytest.mark.e2e
@pytest.mark.parametrize("where", ["another process", "this process"])
def test_a_write_answers_after_every_leased_cache_moved(
    db: tuple[str, Engine, Any], where: str
) -> None:
    url, _engine, sessions = db
    loop = Loop()
    probe = ChangeProbe(url, postgres=True)
    try:
        _leased(loop, probe)
        if where == "another process":
            # Hidden from this process's writers, which then wait for its acknowledgement
            # (LISTEN, NOTIFY, the lease row) as for a server elsewhere.
            leases._LOCAL.remove(probe._lease)  # type: ignore[arg-type]
        before = loop.run(probe.aversion())
        sent = probe._sent
        assert loop.run(probe.aversion()) == before  # nothing changed: no round trip either
        assert probe._sent == sent

        # A read-only unit: no notification, no change number, the version holds.
        drawn = change_numbers_drawn(_dsn(url))
        with unit_of_work(sessions) as unit:
            unit.session.scalars(select(Owner)).all()
        assert loop.run(probe.aversion()) == before and change_numbers_drawn(_dsn(url)) == drawn

        for name in ("alice", "bob", "carol"):
            _add_owner(sessions, name)
            # The unit has returned: the leased process must already know, with no probe.
            now = loop.run(probe.aversion())
            assert now != before, name
            before = now
        assert probe._sent == sent and probe._lease is not None and probe._lease.valid()
        if where == "another process":
            with psycopg.connect(_dsn(url), autocommit=True) as conn:
                acked = conn.execute("SELECT acked FROM cache_leases").fetchall()
            assert acked == [(change_numbers_drawn(_dsn(url)),)]
    finally:
        loop.run(probe.aclose())
        loop.stop()
    with psycopg.connect(_dsn(url), autocommit=True) as conn:  # given up at close
        assert conn.execute("SELECT count(*) FROM cache_leases").fetchone() == (0,)


@pytest.mark.e2e
def test_a_cache_neutral_write_moves_no_cache(db: tuple[str, Engine, Any]) -> None:
    """A unit with ``caches=False`` (the failed-authentication ledger) commits its rows, draws
    no change number and leaves every leased cache as it was: an attacker's bad tokens do
    not make the servers drop their pages."""
    url, _engine, sessions = db
    loop = Loop()
    probe = ChangeProbe(url, postgres=True)
    try:
        _leased(loop, probe)
        leases._LOCAL.remove(probe._lease)  # type: ignore[arg-type]
        before, drawn = loop.run(probe.aversion()), change_numbers_drawn(_dsn(url))
        with unit_of_work(sessions, caches=False) as unit:
            unit.session.execute(
                insert(auth_failures), [{"subject": "s", "credential": "c", "at": time.time()}]
            )
        assert loop.run(probe.aversion()) == before and change_numbers_drawn(_dsn(url)) == drawn
        with unit_of_work(sessions) as unit:
            assert unit.session.scalars(select(auth_failures.c.subject)).all() == ["s"]
        _add_owner(sessions, "alice")  # while an ordinary write still moves it
        assert loop.run(probe.aversion()) != before and change_numbers_drawn(_dsn(url)) > drawn
    finally:
        loop.run(probe.aclose())
        loop.stop()


@pytest.mark.e2e
def test_a_silent_lease_holds_writers_until_it_expires_then_is_revoked(
    db: tuple[str, Engine, Any],
) -> None:
    url, _engine, sessions = db
    # A process that took a lease and stopped (SIGSTOP, a dead host): it never acknowledges.
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO cache_leases VALUES ('gone', 0, clock_timestamp() + interval '1.5 s')"
        )
    start = time.monotonic()
    _add_owner(sessions, "dave")
    waited = time.monotonic() - start
    assert 1.2 < waited < 1.5 + 3.0, waited
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM cache_leases").fetchone() == (0,)
    start = time.monotonic()
    _add_owner(sessions, "erin")  # nothing left to wait for
    assert time.monotonic() - start < 1.0


@pytest.mark.e2e
def test_a_cut_listener_stops_trusting_its_cache_and_rejoins(db: tuple[str, Engine, Any]) -> None:
    url, _engine, sessions = db
    loop = Loop()
    probe = ChangeProbe(url, postgres=True)
    try:
        _leased(loop, probe)
        assert probe._lease is not None
        leases._LOCAL.remove(probe._lease)  # as a server elsewhere (see above)
        before = loop.run(probe.aversion())
        with psycopg.connect(_dsn(url), autocommit=True) as conn:
            cut = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s AND datname = current_database()",
                (leases.APPLICATION,),
            ).fetchall()
        assert cut == [(True,)]
        # The lease row is still unexpired: a write now waits for it to rejoin or expire.
        _add_owner(sessions, "frank")
        after = loop.run(probe.aversion())
        assert after is not None and after != before
        # It rejoins on its own and answers from the lease again; writes are seen at once.
        _leased(loop, probe)
        sent = probe._sent
        before = loop.run(probe.aversion())
        _add_owner(sessions, "grace")
        assert loop.run(probe.aversion()) != before and probe._sent == sent
    finally:
        loop.run(probe.aclose())
        loop.stop()


def test_sqlite_has_no_leases(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'yard.db'}")
    migrate(engine)
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM sqlite_master")).scalars().all()
    assert "releases" in names and not {"cache_leases", "cache_change_numbers"} & set(names)
    _add_owner(make_sessionmaker(engine), "henry")  # a write needs no lease machinery
    engine.dispose()
