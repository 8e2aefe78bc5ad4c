"""One unit of work: the edge (a request, a CLI command, a housekeeping step) owns the
transaction; the services in ``yard/`` it calls only flush.

``unit_of_work`` (or ``transaction`` on a session already open) commits once when the block
ends and rolls back when it raises. Around that, a service may ask for work that must not be
part of the transaction:

* ``after_commit(session, fn)``: ``fn()`` runs once the unit has committed, never after a
  rollback (for deleting what only the committed state stops using, e.g. blobs);
* ``if_failed(session, fn)``: ``fn(session)`` runs in a unit of its own after this one rolled
  back (e.g. a failed staged commit still uses up its stage);
* ``raise commit_then_raise(session, exc)``: the unit commits what it did, then ``exc``
  propagates (e.g. a refused forced upload that cancelled a pending delete on the way).

Sessions made by ``db.session.make_sessionmaker`` refuse ``commit()`` outside a unit, so a
service that commits fails loudly instead of splitting its caller's unit in two.

On PostgreSQL a unit that wrote answers only once every serving process's page cache has
dropped what it changed (``db.leases``): the commit notifies, then waits for their
acknowledgements. Whether a unit may have written is tracked for every session (any
statement that is not an ORM SELECT, any flush), and PostgreSQL confirms it (the transaction
has an id), so read-only units pay nothing. A unit that writes only what no cached page
shows (``transaction(session, caches=False)``: the failed-authentication ledger, download
counts, a token's last use) skips that.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from wheelyard.db import leases

log = logging.getLogger("wheelyard.db")
T = TypeVar("T")

_UNIT = "wheelyard.unit"
_COMMITTING = "wheelyard.unit.committing"
_MAY_HAVE_WRITTEN = "wheelyard.unit.wrote"
_CACHE_NEUTRAL = "wheelyard.unit.cache_neutral"


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    if not state.is_select:  # text(), INSERT/UPDATE/DELETE, DDL: may write
        state.session.info[_MAY_HAVE_WRITTEN] = True


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: object) -> None:
    session.info[_MAY_HAVE_WRITTEN] = True


@dataclass
class Unit:
    session: Session
    committed: list[Callable[[], None]] = field(default_factory=list)
    failed: list[Callable[[Session], None]] = field(default_factory=list)
    keep: BaseException | None = None


def _unit(session: Session) -> Unit:
    unit = session.info.get(_UNIT)
    if unit is None:
        raise RuntimeError("this session is not inside a unit of work (db.unit)")
    assert isinstance(unit, Unit)
    return unit


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Run ``fn()`` once the unit of ``session`` has committed (never if it rolls back)."""
    _unit(session).committed.append(fn)


def if_failed(session: Session, fn: Callable[[Session], None]) -> None:
    """Run ``fn(session)`` in a unit of its own if the unit of ``session`` rolls back."""
    _unit(session).failed.append(fn)


def commit_then_raise(session: Session, exc: BaseException) -> BaseException:
    """Mark ``exc`` so that the unit commits its work before letting it propagate."""
    _unit(session).keep = exc
    return exc


def _commit(session: Session) -> None:
    session.info[_COMMITTING] = True
    try:
        session.flush()  # what commit() would flush counts as written (after_flush)
        wrote = (
            session.info.pop(_MAY_HAVE_WRITTEN, False)
            and not session.info.get(_CACHE_NEUTRAL, False)
            and session.in_transaction()
            and leases.is_postgres(session)
            and leases.notify_if_wrote(session)
        )
        session.commit()
        if wrote:
            leases.moved_here()  # this process's caches: at once, whatever happens next
            _wait_for_caches(session)
    finally:
        session.info.pop(_COMMITTING, None)
        session.info.pop(_MAY_HAVE_WRITTEN, None)


def _wait_for_caches(session: Session) -> None:
    """After a committed write on PostgreSQL: announce it and wait until every other serving
    process with a cache lease has dropped what it changed (``db.leases``). Errors are
    logged, not raised: the write is committed whatever happens here."""
    try:
        # Autocommit: each statement one round trip, no BEGIN/COMMIT around it (the pool
        # resets the connection when the session gives it back).
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        number = leases.announce(session)
        deadline = time.monotonic() + leases.WAIT_LIMIT
        pause = 0.0003  # about what another process takes to get the notice and answer
        while True:
            time.sleep(pause)
            if not leases.pending(session, number):
                break
            if time.monotonic() > deadline:
                log.error("servers did not acknowledge change %d in time; going on", number)
                break
            pause = min(pause * 1.5, 0.005)
        session.commit()
    except SQLAlchemyError:
        log.exception("could not make sure that every server saw a committed write")
        session.rollback()


@contextmanager
def transaction(session: Session, caches: bool = True) -> Iterator[Unit]:
    """One unit of work on an open session: commit at the end, roll back on error.

    ``caches=False`` is for a unit that writes only tables no page cache reads: its commit
    does not make every serving process drop its caches (or wait for them to).
    """
    if _UNIT in session.info:
        raise RuntimeError("units of work do not nest: open a new session for a separate one")
    unit = Unit(session)
    session.info[_UNIT] = unit
    session.info[_CACHE_NEUTRAL] = not caches
    try:
        try:
            yield unit
        except BaseException as exc:
            if exc is unit.keep:
                _commit(session)
            else:
                session.info.pop(_MAY_HAVE_WRITTEN, None)
                session.rollback()
            raise
        _commit(session)
    except BaseException:
        session.rollback()  # a no-op after a commit; ends a commit that failed half-way
        session.info.pop(_UNIT, None)
        for fn in unit.failed:
            with Session(session.get_bind()) as fresh, transaction(fresh) as other:
                fn(other.session)
        raise
    finally:
        session.info.pop(_CACHE_NEUTRAL, None)
    session.info.pop(_UNIT, None)
    for done in unit.committed:
        try:
            done()
        except Exception:  # committed is committed: what is left over is collected later
            log.exception("an after-commit step failed")


@contextmanager
def unit_of_work(sessions: sessionmaker[Session], caches: bool = True) -> Iterator[Unit]:
    """A new session and one unit of work on it, closed at the end (``caches``: as for
    ``transaction``)."""
    with sessions() as session, transaction(session, caches) as unit:
        yield unit


# PostgreSQL's answers that mean "this transaction lost to another one; run it again":
# deadlock_detected and serialization_failure. Its manual asks applications to retry them.
TRANSIENT = frozenset({"40P01", "40001"})


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a conflict between transactions that a new attempt resolves."""
    return isinstance(exc, OperationalError) and getattr(exc.orig, "sqlstate", None) in TRANSIENT


def run_unit(
    sessions: sessionmaker[Session], fn: Callable[..., T], *args: object, attempts: int = 3
) -> T:
    """``fn(session, *args)`` as one unit of work, run again (after a short random pause) when
    the database chose it as the loser of a deadlock or serialization conflict: the whole unit
    was rolled back, so running it again is safe. Other failures propagate at once."""
    for attempt in range(1, attempts + 1):
        try:
            with unit_of_work(sessions) as unit:
                return fn(unit.session, *args)
        except OperationalError as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            log.info(
                "unit of work lost a database conflict; attempt %d of %d", attempt + 1, attempts
            )
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")


def _refuse_stray_commit(session: Session) -> None:
    if session.in_nested_transaction() or session.info.get(_COMMITTING):
        return
    raise RuntimeError(
        "commit() outside a unit of work: services only flush, the edge commits (db.unit)"
    )


def guard(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Make the sessions of ``sessions`` refuse commits that do not end a unit of work."""
    event.listen(sessions, "before_commit", _refuse_stray_commit)
    return sessions
