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

from wheelyard.db.models import Stage
from wheelyard.errors import (
    Conflict,
    Forbidden,
    InsufficientStorage,
    InvalidInput,
    NotFound,
    StorageError,
    TooLarge,
    TooManyRequests,
    YardError,
)
from wheelyard.storage.staging import StagedFile
from wheelyard.web.anaconda.common import json_body, need_principal
from wheelyard.web.context import ctx
from wheelyard.web.multipart import FormLimits, read_form
from wheelyard.yard import accounts, stages
from wheelyard.yard.access import require_write, writable_owner
from wheelyard.yard.names import DEFAULT_LABEL
from wheelyard.yard.uploads import Stored


def _stage(session: Session, request: Request, body: dict[str, Any]) -> stages.StageTicket:
    p = request.path_params
    owner = accounts.get_owner(session, p["owner"])
    principal = require_write(session, need_principal(request), owner)
    channels = body.get("channels") or []
    if not isinstance(channels, list):  # 5 or {"a": 1} is no list of label names
        raise InvalidInput("'channels' must be a list of label names")
    labels = [str(c) for c in channels] or [DEFAULT_LABEL]
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
    (InsufficientStorage, 507, "InsufficientStorage"),
    (StorageError, 503, "ServiceUnavailable"),
    (TooManyRequests, 429, "SlowDown"),
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


class _Signature:
    """Checks the stage's signature when its form field arrives, and refuses a file part that
    comes before it: no byte of the file is stored until the secret is proven."""

    def __init__(self, secret_hash: str) -> None:
        self.secret_hash = secret_hash
        self.verified = False

    def on_field(self, name: str, value: str) -> None:
        if name == "signature":
            if not stages.signature_matches(self.secret_hash, value):
                raise Forbidden("bad upload signature")
            self.verified = True

    def before_file(self) -> None:
        if not self.verified:
            raise Forbidden("the signature field must come before the file")


async def receive(request: Request) -> Response:
    c = ctx(request)
    dist_id = str(request.path_params["dist_id"])
    try:
        # Anonymous request: the stage must exist and be waiting before any body is read.
        signature = _Signature(await c.run(stages.check_receivable, dist_id))
        with StagedFile(c.settings.staging, c.settings.max_upload) as staged:
            form = await read_form(
                request,
                staged,
                {"file"},
                FormLimits.of(c.settings),
                on_field=signature.on_field,
                before_file=signature.before_file,
            )
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


def _commit(session: Session, request: Request, dist_id: str) -> tuple[Stored, list[str]]:
    p = request.path_params
    owner, principal = writable_owner(session, need_principal(request), p["owner"])
    stage = session.get(Stage, dist_id) if dist_id else None
    labels = stage.labels.split() if stage is not None else []
    stored = stages.commit_stage(
        session, ctx(request).store, principal, owner, dist_id, p["basename"]
    )
    return stored, labels or [DEFAULT_LABEL]


async def commit(request: Request) -> Response:
    body = await json_body(request)
    stored, labels = await ctx(request).run(_commit, request, str(body.get("dist_id") or ""))
    p = request.path_params
    # The client prints this as where the files went: the first label it uploaded to.
    where = "" if labels[0] == DEFAULT_LABEL else f"label/{labels[0]}/"
    return JSONResponse(
        {
            "ok": True,
            "outcome": stored.outcome,
            "labels": labels,
            "url": str(request.base_url) + f"{p['owner']}/{where}simple/",
        }
    )
