"""``/-/ready``: whether this server can do its work now — the database answers and the blob
store answers, each within a time limit. ``/-/health`` (app.py) only says the process lives."""

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


def _database(yard: YardContext) -> None:
    with yard.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _storage(yard: YardContext) -> None:
    # One listing of a prefix that holds nothing: S3 answers it only if the bucket is there
    # and the credentials are good; the local store reads its folder.
    next(iter(yard.store.iter_keys("ready-probe/")), None)


async def _probe(check: Callable[[YardContext], None], yard: YardContext) -> str:
    try:
        await asyncio.wait_for(run_in_threadpool(check, yard), TIME_LIMIT)
    except asyncio.TimeoutError:
        return f"no answer within {TIME_LIMIT:.0f}s"
    except YardError as exc:  # a message meant for users (storage faults)
        return f"failed: {exc.message}"
    except Exception as exc:  # any failure means "not ready"; the kind is enough to say
        return f"failed ({type(exc).__name__})"
    return "ok"


async def ready(request: Request) -> Response:
    yard = ctx(request)
    database, storage = await asyncio.gather(_probe(_database, yard), _probe(_storage, yard))
    ok = database == storage == "ok"
    body = {"ok": ok, "database": database, "storage": storage}
    return JSONResponse(body, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})
