"""``/-/ready``: whether this server can do its work now — the database answers and the blob
store answers, each within a time limit. ``/-/health`` (app.py) only says the process lives.

Each check is blocking I/O, so it runs in a worker thread, and a thread cannot be stopped: a
check that hangs (a black-holed database or bucket) keeps its thread until the driver's own
timeouts end it, whatever the time limit answers. So a process never runs more than one
check per dependency at a time: a probe that finds one in flight waits for that one (up to
the time limit) instead of starting another. However often a load balancer asks, a hung
dependency holds one thread of the pool, not all of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wheelyard.errors import YardError
from wheelyard.web.context import YardContext, ctx

TIME_LIMIT = 5.0  # seconds each dependency has to answer

Check = Callable[[YardContext], None]


def _database(yard: YardContext) -> None:
    with yard.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _storage(yard: YardContext) -> None:
    # S3: one listing of an empty prefix (bucket there, credentials good), on a client with
    # short timeouts; local: the store's folder is there.
    yard.store.check()


class InFlight:
    """The checks running now, one per dependency, shared by every probe that asks meanwhile.

    Lives on the app (one per process and event loop); only the loop touches it.
    """

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[None]] = {}

    def check(self, name: str, check: Check, yard: YardContext) -> asyncio.Future[None]:
        running = self._running.get(name)
        if running is None:
            running = asyncio.ensure_future(run_in_threadpool(check, yard))
            self._running[name] = running
            running.add_done_callback(lambda done: self._finished(name, done))
        return running

    def _finished(self, name: str, done: asyncio.Future[None]) -> None:
        if self._running.get(name) is done:
            del self._running[name]
        if not done.cancelled():
            done.exception()  # retrieved: every probe that waited for it may have given up


def _in_flight(request: Request) -> InFlight:
    state = request.app.state
    flights: InFlight | None = getattr(state, "ready_checks", None)
    if flights is None:  # no await between the look and the set: one per app
        flights = state.ready_checks = InFlight()
    return flights


async def _probe(flights: InFlight, name: str, check: Check, yard: YardContext) -> str:
    try:
        # shield: a probe that gives up must not cancel the check others share (its thread
        # runs on regardless; only the task would be lost, and the next probe start another).
        await asyncio.wait_for(asyncio.shield(flights.check(name, check, yard)), TIME_LIMIT)
    except asyncio.TimeoutError:
        return f"no answer within {TIME_LIMIT:.0f}s"
    except YardError as exc:  # a message meant for users (storage faults)
        return f"failed: {exc.message}"
    except Exception as exc:  # any failure means "not ready"; the kind is enough to say
        return f"failed ({type(exc).__name__})"
    return "ok"


async def ready(request: Request) -> Response:
    yard = ctx(request)
    flights = _in_flight(request)
    database, storage = await asyncio.gather(
        _probe(flights, "database", _database, yard), _probe(flights, "storage", _storage, yard)
    )
    ok = database == storage == "ok"
    body = {"ok": ok, "database": database, "storage": storage}
    return JSONResponse(body, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})
