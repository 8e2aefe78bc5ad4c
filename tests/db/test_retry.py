"""A unit of work that PostgreSQL picks as a deadlock's loser runs again, whole, and both
units' changes land exactly once (db.unit.run_unit, which every HTTP request goes through)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.postgres import new_database
from wheelyard.db.session import make_engine, make_sessionmaker
from wheelyard.db.unit import run_unit

pytestmark = pytest.mark.e2e


def test_a_deadlocked_unit_runs_again(postgres: str) -> None:
    engine = make_engine(new_database(postgres))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)"))
        conn.execute(text("INSERT INTO counters VALUES (1, 0), (2, 0)"))
    sessions = make_sessionmaker(engine)
    met = threading.Barrier(2)
    lock = threading.Lock()
    calls: list[int] = []

    def bump(session: Session, first: int, second: int) -> None:
        with lock:
            calls.append(first)
            meeting = len(calls) <= 2  # only the first two attempts wait for each other
        session.execute(text("UPDATE counters SET n = n + 1 WHERE id = :i"), {"i": first})
        if meeting:
            met.wait(timeout=30)  # each holds its first row: the second updates deadlock
        session.execute(text("UPDATE counters SET n = n + 1 WHERE id = :i"), {"i": second})

    errors: list[BaseException] = []

    def unit(first: int, second: int) -> None:
        try:
            run_unit(sessions, bump, first, second)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=unit, args=a) for a in ((1, 2), (2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(calls) == 3  # PostgreSQL cancelled one of the two; it ran once more
    with engine.connect() as conn:
        counts = {row.id: row.n for row in conn.execute(text("SELECT id, n FROM counters"))}
    assert counts == {1: 2, 2: 2}  # each unit's two updates, exactly once
    engine.dispose()
