"""The PyPI legacy upload API (what ``twine upload`` and ``uv publish`` speak) per owner/label."""

from __future__ import annotations

import hmac

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wheelyard.db.models import Owner
from wheelyard.errors import InvalidInput
from wheelyard.storage.staging import StagedFile
from wheelyard.web.auth import principal_for
from wheelyard.web.context import YardContext, ctx
from wheelyard.web.multipart import FormLimits, read_form
from wheelyard.web.simple import label_of
from wheelyard.yard import accounts
from wheelyard.yard.access import require_write
from wheelyard.yard.distfile import inspect_file
from wheelyard.yard.labels import find_label, require_unlocked
from wheelyard.yard.names import check_label_name
from wheelyard.yard.tokens import Principal
from wheelyard.yard.uploads import Stored, store_upload


def _authorise(session: Session, request: Request, label: str) -> tuple[Owner, Principal]:
    owner = accounts.get_owner(session, request.path_params["owner"])
    principal = require_write(session, principal_for(request), owner)
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
    # As bytes: compare_digest raises TypeError on str with non-ASCII characters.
    sent = form_value.strip().lower().encode() if form_value else b""
    if form_value and not hmac.compare_digest(sent, actual.encode()):
        raise InvalidInput(
            f"the uploaded file's {algorithm} ({actual}) does not match the "
            f"{algorithm}_digest sent with it ({form_value})"
        )


async def upload(request: Request) -> Response:
    c = ctx(request)
    label = check_label_name(label_of(request))
    # Credentials and the label are checked before a byte of the body is read; read_form then
    # refuses an announced or actual size beyond the limits as it goes.
    owner, principal = await c.run(_authorise, request, label)
    with StagedFile(c.settings.staging, c.settings.max_upload) as staged:
        form = await read_form(request, staged, {"content"}, FormLimits.of(c.settings))
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
