"""Background chores of a server process: writing the download counts in batches
(yard/downloads.py) and carrying out single-file deletes once their delay has passed
(yard/pending.py). Every worker runs the loop; the pending row decides which one
acts, so running it in several processes is safe."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from wheelyard.db.unit import unit_of_work
from wheelyard.web.context import YardContext
from wheelyard.yard import downloads, pending

log = logging.getLogger("wheelyard.web")


def _tick(yard: YardContext) -> int:
    """Carry out the deletes now due; returns how many files went.

    Each delete is a unit of work of its own: one that fails (or lapses) leaves the others
    done, and none holds the write lock while the next is decided."""
    flush_downloads(yard)
    with unit_of_work(yard.sessions) as unit:
        due = pending.due_removals(unit.session)
    done = 0
    for file_id, actor in due:
        with unit_of_work(yard.sessions) as unit:
            done += pending.execute(unit.session, yard.store, file_id, actor)
    return done


def flush_downloads(yard: YardContext) -> None:
    """Write the download counts taken since the last flush (one transaction). No page a
    server caches on PostgreSQL shows them, so the write moves no cache (``caches=False``):
    every server's flush every few seconds would otherwise drop every server's pages."""
    counts = yard.downloads.take()
    if not counts:
        return
    try:
        with unit_of_work(yard.sessions, caches=False) as unit:
            downloads.flush(unit.session, counts)
    except Exception:
        yard.downloads.merge(counts)  # kept for the next flush
        raise


async def _loop(yard: YardContext) -> None:
    period = min(5.0, max(0.2, yard.settings.removal_delay / 4))
    while True:
        await asyncio.sleep(period)
        try:
            await run_in_threadpool(_tick, yard)
        except Exception:  # a database hiccup must not end the loop
            log.exception("carrying out due removals failed; retrying")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    task = asyncio.create_task(_loop(app.state.yard))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            await run_in_threadpool(flush_downloads, app.state.yard)
        except Exception:
            log.exception("writing the last download counts failed; they are lost")
