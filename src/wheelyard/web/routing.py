"""Route tables: a path that several handlers serve, one per HTTP method, written once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]


def by_method(path: str, **handlers: Handler) -> list[Route]:
    """One ``Route`` for ``path`` that hands each method to its handler:
    ``*by_method("/x", GET=show, DELETE=remove)``. A ``GET`` handler also answers ``HEAD``,
    as every Starlette route does. One route (not one per method) so that a method none of
    them takes answers 405 with an ``Allow`` header naming all of them. Each handler keeps
    its own access check; this only writes the table."""
    table = dict(handlers)
    if "GET" in table:
        table.setdefault("HEAD", table["GET"])

    async def dispatch(request: Request) -> Response:
        return await table[request.method](request)

    dispatch.__name__ = "_".join(h.__name__ for h in handlers.values())
    return [Route(path, dispatch, methods=list(handlers))]
