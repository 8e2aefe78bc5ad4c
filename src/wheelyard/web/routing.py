"""Route tables: a path that several handlers serve, one per HTTP method, written once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]


def by_method(path: str, **handlers: Handler) -> list[Route]:
    """One ``Route`` per method of ``path``, in the order given (a ``GET`` route also answers
    ``HEAD``, as every Starlette route does): ``*by_method("/x", GET=show, DELETE=remove)``.
    Each handler keeps its own access check; this only writes the table."""
    return [Route(path, handler, methods=[method]) for method, handler in handlers.items()]
