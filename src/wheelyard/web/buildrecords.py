"""``/api/build-records/{owner}/{label}/{key}``: the builder's records beside a label — GET
reads one (as private as the label), PUT stores one (the upload scope on the owner). The
rules are yard/buildrecords.py's."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wheelyard.errors import InvalidInput
from wheelyard.web.auth import aprincipal_for
from wheelyard.web.context import ctx
from wheelyard.web.multipart import read_limited
from wheelyard.yard import buildrecords


async def show(request: Request) -> Response:
    p = request.path_params
    principal = await aprincipal_for(request)
    data = await ctx(request).run(
        buildrecords.read_record, principal, p["owner"], p["label"], p["key"]
    )
    return JSONResponse(data)


async def store(request: Request) -> Response:
    p = request.path_params
    raw = await read_limited(request, buildrecords.MAX_BYTES, "build record")
    try:
        data = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise InvalidInput("request body is not valid JSON") from None
    principal = await aprincipal_for(request)
    await ctx(request).run(
        buildrecords.write_record, principal, p["owner"], p["label"], p["key"], data
    )
    return JSONResponse({"ok": True}, status_code=201)
