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

from wheelyard.web.context import YardContext
from wheelyard.yard import downloads
from wheelyard.yard.pending import execute_due

log = logging.getLogger("wheelyard.web")


def _tick(yard: YardContext) -> int:
    flush_downloads(yard)
    with yard.sessions() as session:
        return execute_due(session, yard.store)


def flush_downloads(yard: YardContext) -> None:
    """Write the download counts taken since the last flush (one transaction)."""
    counts = yard.downloads.take()
    if not counts:
        return
    try:
        with yard.sessions() as session:
            downloads.flush(session, counts)
            session.commit()
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
