"""Engine and session set-up, read-only units, and schema migration to the newest Alembic
revision.

Stale PostgreSQL connections (the server restarted, a backend was terminated) are found
without a round trip: a pooled connection is idle, so a socket with something to read holds
the server's goodbye (or EOF), and checkout replaces it — the whole pool, as a failed pre-ping
would. A connection that dies after that check fails its statement; SQLAlchemy then
invalidates the pool (its "optimistic" disconnect handling) and ``read_unit`` runs a
read-only unit once more on a fresh connection.
"""

from __future__ import annotations

import logging
import select
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

from wheelyard.db.unit import guard, transaction
from wheelyard.errors import InvalidInput

log = logging.getLogger("wheelyard.db")

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
T = TypeVar("T")


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


_GONE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


def _check_alive(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """On checkout: refuse a psycopg connection the server has closed, with no round trip.

    Between units a connection is idle: every answer was read, so anything readable on its
    socket is the server's termination notice or EOF (or, harmlessly, a notice: the
    connection is replaced). Raising InvalidatePoolError makes the pool discard every
    connection made before now and hand out a fresh one, exactly as a failed pre-ping does.
    """
    if dbapi_conn.closed or dbapi_conn.broken:
        raise InvalidatePoolError("the connection was closed")
    try:
        fd = dbapi_conn.pgconn.socket
    except Exception as exc:  # psycopg: "the connection is lost"
        raise InvalidatePoolError("the connection has no socket") from exc
    poller = select.poll()
    poller.register(fd, _GONE)
    if poller.poll(0):
        raise InvalidatePoolError("the server closed the connection")


# libpq's connect_timeout (seconds, for the whole connection set-up: TCP, TLS, authentication).
# Without one a connection to a black-holed server waits for the kernel's TCP timeout (minutes,
# or for ever once the handshake went through), pinning a worker thread. A reachable server
# answers in milliseconds, so 3 s still allow for a loaded one, and stay under /-/ready's 5 s
# limit, so a probe reports the database's own failure and its thread is back for the next.
# A connect_timeout in the URL's query wins.
CONNECT_TIMEOUT = 3


def _connect_args(url: str) -> dict[str, Any]:
    """The DBAPI connect arguments the yard adds to ``url``'s own."""
    parsed = make_url(url)
    libpq = parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in (
        "psycopg",
        "psycopg2",
    )
    if libpq and "connect_timeout" not in parsed.query:
        return {"connect_timeout": CONNECT_TIMEOUT}
    return {}


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        psycopg = make_url(url).get_driver_name() == "psycopg"
        # Another driver: a pre-ping round trip on every checkout.
        engine = create_engine(url, pool_pre_ping=not psycopg, connect_args=_connect_args(url))
        if psycopg:
            event.listen(engine, "checkout", _check_alive)
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


def _only_reads(
    _conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, _many: bool
) -> None:
    # Each statement of a read unit commits on its own: one that writes must never run there.
    if statement.lstrip()[:6].upper() != "SELECT":
        raise RuntimeError(f"a read-only unit may only SELECT, not: {statement[:40]!r}")


_READER = "_wheelyard_reader"  # the engine's reader, kept on it: made once, dies with it


def _reader(engine: Engine) -> Engine:
    """``engine`` for read-only units: on PostgreSQL in autocommit, so a unit costs no BEGIN
    and COMMIT round trips. Each statement then reads what was committed when it started —
    what READ COMMITTED (the yard's isolation level) gives each statement of a transaction
    too. SQLite keeps its transactions: they are in process, and give one snapshot."""
    reader: Engine | None = getattr(engine, _READER, None)
    if reader is None:
        if engine.dialect.name != "postgresql":
            reader = engine
        else:
            reader = engine.execution_options(isolation_level="AUTOCOMMIT")
            event.listen(reader, "before_cursor_execute", _only_reads)
        setattr(engine, _READER, reader)
    return reader


def read_unit(sessions: sessionmaker[Session], fn: Callable[..., T], *args: object) -> T:
    """``fn(session, *args)`` as a unit of work that only reads (``_reader``), run once more
    when its connection turned out to be dead: SQLAlchemy invalidated the pool on that
    disconnect, so the second attempt gets a fresh connection. Nothing was written, so
    running it again is safe; ``fn`` must not write (a write statement is refused)."""
    engine = sessions.kw["bind"]
    for attempt in (1, 2):
        try:
            with sessions(bind=_reader(engine)) as session, transaction(session):
                return fn(session, *args)
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
            log.info("a read lost its database connection; running it again")
    raise AssertionError("unreachable")


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
