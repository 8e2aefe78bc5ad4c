"""Engine and session set-up, and schema migration to the newest Alembic revision."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from wheelyard.db.unit import guard
from wheelyard.errors import InvalidInput

MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the admin CLI write while the server reads; busy_timeout queues writers.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def lock_for_write(session: Session) -> None:
    """Serialise this write transaction with every other writer before it reads what it decides on.

    On SQLite reads outside a write transaction run without a lock, so a remover could decide
    on rows an upload changes a moment later. Taking the database's write lock now (``BEGIN
    IMMEDIATE``, waiting up to ``busy_timeout``) makes every read that follows current until
    commit. Read-only requests never call this and keep reading concurrently. On PostgreSQL the
    yard locks the rows it decides on (``SELECT ... FOR UPDATE``) instead, so this is a no-op.
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A part of a unit of work that may fail on its own (a lost unique-constraint race) and
    be retried without losing the rest. On SQLite the write lock is taken first: a SAVEPOINT
    outside a transaction would begin one, and releasing it would commit the whole unit."""
    lock_for_write(session)
    with session.begin_nested():
        yield


Row = TypeVar("Row")


def insert_or_find(session: Session, row: Row, find: Callable[[], Row | None]) -> tuple[Row, bool]:
    """Add ``row`` (a create-if-missing row: package, release, label); if a concurrent unit
    added its twin first, that twin instead. Returns the row and whether we created it.

    The caller has just looked with ``find`` and seen nothing, but on PostgreSQL another
    transaction may have inserted the same key and not yet committed: our INSERT then waits
    for it and fails on the unique constraint once it commits. Only the savepoint is lost; a
    fresh look (READ COMMITTED: each statement sees what is committed) finds the winner's row.
    """
    try:
        with savepoint(session):
            session.add(row)
            session.flush()
        return row, True
    except IntegrityError:
        found = find()
        if found is None:  # not a lost race: some other constraint refused the row
            raise
        return found, False


def _refuse_nul(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, many: bool
) -> None:
    """No stored text holds NUL, and PostgreSQL cannot even compare one (psycopg raises
    DataError, a 500): text from a request that carries NUL is refused here, where every
    look-up and write passes, the same on every backend."""
    for row in parameters if many else (parameters,):
        values = row.values() if isinstance(row, dict) else row or ()
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise InvalidInput("text containing a NUL character (\\x00) is never valid")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


_MIGRATION_LOCK = 0x77686C79  # "whly": the advisory lock key serialising migrations


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (creates it on first start)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several servers starting at once on one database: one migrates, the others wait
            # for its transaction (DDL is transactional here) and then find the schema current.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that commit only at the end of a unit of work (see ``db.unit``)."""
    return guard(sessionmaker(engine, expire_on_commit=False))
