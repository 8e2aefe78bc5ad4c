"""web/routing.by_method: each method of a path reaches its own handler (GET also answers
HEAD), a method the path does not list is refused with 405 and an ``Allow`` header naming
every method the path takes, in-process."""

from __future__ import annotations

import warnings

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from wheelyard.web.routing import by_method

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # Starlette 1.x asks for httpx2
    from starlette.testclient import TestClient


async def show(request: Request) -> Response:
    return PlainTextResponse("show " + request.path_params["name"])


async def remove(request: Request) -> Response:
    return PlainTextResponse("remove " + request.path_params["name"])


def test_each_method_reaches_its_handler() -> None:
    routes = by_method("/x/{name}", GET=show, DELETE=remove)
    assert [sorted(r.methods or ()) for r in routes] == [["DELETE", "GET", "HEAD"]]
    with TestClient(Starlette(routes=routes)) as client:
        assert client.get("/x/a").text == "show a"
        assert client.delete("/x/b").text == "remove b"
        head = client.head("/x/a")
        assert head.status_code == 200 and head.content == b""
        refused = client.post("/x/a")
        assert refused.status_code == 405
        assert sorted(refused.headers["allow"].split(", ")) == ["DELETE", "GET", "HEAD"]
        assert client.get("/y").status_code == 404
