"""The PyPI legacy upload API (what ``twine upload`` and ``uv publish`` speak) per owner/label."""

from __future__ import annotations

import hmac

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wheelyard.db.models import Owner
from wheelyard.storage.staging import StagedFile
from wheelyard.web.auth import principal_for
from wheelyard.web.context import YardContext, ctx
from wheelyard.web.multipart import read_form
from wheelyard.web.simple import label_of
from wheelyard.yard import accounts
from wheelyard.yard.access import require_write
from wheelyard.yard.distfile import inspect_file
from wheelyard.yard.errors import InvalidInput, TooLarge
from wheelyard.yard.labels import find_label, require_unlocked
from wheelyard.yard.names import check_label_name
from wheelyard.yard.tokens import Principal
from wheelyard.yard.uploads import Stored, store_upload


def _authorise(session: Session, request: Request, label: str) -> tuple[Owner, Principal]:
    owner = accounts.get_owner(session, request.path_params["owner"])
    principal = require_write(session, principal_for(session, request), owner)
    existing = find_label(session, owner, label)
    if existing is not None:  # refuse before the body is read; a new label is made on store
        require_unlocked(existing, owner)
    return owner, principal


def _store(
    session: Session,
    c: YardContext,
    owner_id: int,
    label: str,
    staged: StagedFile,
    filename: str,
    uploader_id: int,
) -> Stored:
    dist = inspect_file(staged.path, filename)
    owner = session.get(Owner, owner_id)
    assert owner is not None
    return store_upload(session, c.store, owner, [label], staged, dist, uploader_id)


def _check_digest(form_value: str | None, actual: str, algorithm: str) -> None:
    if form_value and not hmac.compare_digest(form_value.strip().lower(), actual):
        raise InvalidInput(
            f"the uploaded file's {algorithm} ({actual}) does not match the "
            f"{algorithm}_digest sent with it ({form_value})"
        )


async def upload(request: Request) -> Response:
    c = ctx(request)
    label = check_label_name(label_of(request))
    owner, principal = await c.run(_authorise, request, label)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > c.settings.max_upload + 1024 * 1024:
        raise TooLarge(f"upload of {declared} bytes exceeds the limit of {c.settings.max_upload}")
    with c.store.stage() as staged:
        staged.limit = c.settings.max_upload
        form = await read_form(request, staged, {"content"})
        action = form.get(":action")
        if action not in (None, "file_upload"):
            raise InvalidInput(f"unsupported :action {action!r}; only file_upload is supported")
        filename = form.files.get("content")
        if filename is None:
            raise InvalidInput("no file sent in the 'content' field")
        staged.finish()
        _check_digest(form.get("sha256_digest"), staged.sha256, "sha256")
        _check_digest(form.get("md5_digest"), staged.md5, "md5")
        stored = await c.run(_store, c, owner.id, label, staged, filename, principal.user_id)
    return JSONResponse(
        {
            "ok": True,
            "filename": filename,
            "outcome": stored.outcome,
            "labels_added": list(stored.labels_added),
        }
    )
