"""``/-/metrics``: the counters of web/metrics.py in Prometheus' text format, summed over all
worker processes when ``PROMETHEUS_MULTIPROC_DIR`` is set (``serve --workers N`` sets it)."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from wheelyard.web.auth import aprincipal_for
from wheelyard.web.context import ctx
from wheelyard.yard.access import may_read_metrics


def _registry() -> CollectorRegistry | None:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None  # one process: the default registry
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


async def metrics(request: Request) -> Response:
    """``/-/metrics`` in Prometheus' text format, for those ``may_read_metrics`` lets in."""
    may_read_metrics(ctx(request).settings.metrics, await aprincipal_for(request))
    registry = _registry()
    # Reading every worker's files is blocking I/O: off the event loop.
    body = await run_in_threadpool(
        lambda: generate_latest(registry) if registry is not None else generate_latest()
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
