"""Anaconda API uploads: ``POST /stage`` → multipart POST to ``post_url`` → ``POST /commit``.

The middle request carries no credentials (the client posts it like an S3 form upload), so it
is authorised by the stage's single-use secret and answers 201 or S3-style XML errors.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wheelyard.web.anaconda.common import json_body, need_principal
from wheelyard.web.context import ctx
from wheelyard.web.multipart import read_form
from wheelyard.yard import accounts, stages
from wheelyard.yard.access import require_write
from wheelyard.yard.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    YardError,
)
from wheelyard.yard.names import DEFAULT_LABEL
from wheelyard.yard.uploads import Stored


def _stage(session: Session, request: Request, body: dict[str, Any]) -> stages.StageTicket:
    p = request.path_params
    owner = accounts.get_owner(session, p["owner"])
    principal = require_write(session, need_principal(session, request), owner)
    labels = [str(c) for c in (body.get("channels") or [])] or [DEFAULT_LABEL]
    return stages.create_stage(
        session,
        ctx(request).store,
        principal,
        owner,
        p["package"],
        p["version"],
        p["basename"],
        str(body.get("sha256") or ""),
        labels,
    )


async def stage(request: Request) -> Response:
    body = await json_body(request)
    ticket = await ctx(request).run(_stage, request, body)
    post_url = str(request.url_for("anaconda_receive", dist_id=ticket.dist_id))
    return JSONResponse(
        {
            "post_url": post_url,
            "dist_id": ticket.dist_id,
            "form_data": {"key": ticket.dist_id, "signature": ticket.secret},
        }
    )


_S3_CODES: list[tuple[type[YardError], int, str]] = [
    (Forbidden, 403, "AccessDenied"),
    (NotFound, 404, "NoSuchUpload"),
    (Conflict, 409, "InvalidRequest"),
    (TooLarge, 413, "EntityTooLarge"),
    (InvalidInput, 400, "InvalidArgument"),
]


def _s3_error(exc: YardError) -> Response:
    status, code = next(
        ((s, c) for cls, s, c in _S3_CODES if isinstance(exc, cls)), (400, "InvalidRequest")
    )
    if "InvalidDigest" in exc.message:
        code = "InvalidDigest"
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{escape(exc.message)}</Message></Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")


async def receive(request: Request) -> Response:
    c = ctx(request)
    dist_id = str(request.path_params["dist_id"])
    try:
        with c.store.stage() as staged:
            staged.limit = c.settings.max_upload
            form = await read_form(request, staged, {"file"})
            if "file" not in form.files:
                raise InvalidInput("no file part in the upload")
            staged.finish()
            await c.run(
                stages.receive,
                c.store,
                dist_id,
                form.get("signature") or "",
                staged,
                form.get("Content-Length"),
                form.get("Content-MD5"),
            )
    except YardError as exc:
        return _s3_error(exc)
    return Response(status_code=201)


def _commit(session: Session, request: Request, dist_id: str) -> Stored:
    p = request.path_params
    owner = accounts.get_owner(session, p["owner"])
    principal = require_write(session, need_principal(session, request), owner)
    return stages.commit_stage(
        session, ctx(request).store, principal, owner, dist_id, p["basename"]
    )


async def commit(request: Request) -> Response:
    body = await json_body(request)
    stored = await ctx(request).run(_commit, request, str(body.get("dist_id") or ""))
    p = request.path_params
    return JSONResponse(
        {
            "ok": True,
            "outcome": stored.outcome,
            "url": str(request.base_url) + f"{p['owner']}/simple/",
        }
    )
