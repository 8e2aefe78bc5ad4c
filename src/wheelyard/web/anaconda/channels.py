"""Anaconda API: labels ("channels") — list, show, copy, lock, remove — and file copies."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wheelyard.db.models import Owner, Package
from wheelyard.web.anaconda.common import (
    file_json,
    json_body,
    need_principal,
    visible_owner,
)
from wheelyard.web.auth import principal_for
from wheelyard.web.context import ctx
from wheelyard.yard import accounts, browse
from wheelyard.yard import labels as ops
from wheelyard.yard.access import can_read, require_write
from wheelyard.yard.copying import copy_files
from wheelyard.yard.errors import NotFound
from wheelyard.yard.names import DEFAULT_LABEL
from wheelyard.yard.scopes import WRITE


def _list(session: Session, request: Request) -> dict[str, Any]:
    principal = principal_for(session, request)
    owner = visible_owner(session, principal, request.path_params["owner"])
    result = {}
    for lb in ops.list_labels(session, owner):
        label = ops.get_label(session, owner, lb.name)
        if can_read(session, principal, owner, label):
            result[lb.name] = {"is_locked": lb.locked, "num_files": lb.files, "private": lb.private}
    return result


async def list_labels(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_list, request))


def _show(session: Session, request: Request) -> dict[str, Any]:
    principal = principal_for(session, request)
    owner = visible_owner(session, principal, request.path_params["owner"])
    label = ops.get_label(session, owner, request.path_params["label"])
    if not can_read(session, principal, owner, label):
        raise NotFound(f"owner {owner.name!r} has no label {label.name!r}")
    files = []
    for f, package, version in browse.files_in_label(session, label):
        pkg = Package(name=package, display_name=package)
        view = browse.FileView(f, version, ())
        files.append(file_json(owner, pkg, view))
    return {"name": label.name, "is_locked": label.locked, "private": label.private, "files": files}


async def show_label(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_show, request))


def _writer(session: Session, request: Request) -> tuple[Owner, str]:
    owner = accounts.get_owner(session, request.path_params["owner"])
    principal = require_write(session, need_principal(session, request), owner, WRITE)
    return owner, principal.user_name


def _copy(session: Session, request: Request) -> int:
    owner, _actor = _writer(session, request)
    p = request.path_params
    added = ops.copy_label(session, owner, p["label"], p["target"])
    session.commit()
    return added


async def copy_label(request: Request) -> Response:
    added = await ctx(request).run(_copy, request)
    return JSONResponse({"ok": True, "added": added}, status_code=201)


def _lock(session: Session, request: Request, locked: bool) -> None:
    owner, _actor = _writer(session, request)
    ops.set_locked(session, owner, request.path_params["label"], locked)
    session.commit()


async def lock(request: Request) -> Response:
    await ctx(request).run(_lock, request, request.method == "POST")
    return JSONResponse({"ok": True}, status_code=201)


def _selection(session: Session, owner: Owner, body: dict[str, Any]) -> list[Any] | None:
    """Files named by ``{package, version, basename}``; None when all three are empty."""
    if not any(body.get(k) for k in ("package", "version", "basename")):
        return None
    if not body.get("package"):
        raise NotFound("a file selection needs a package")
    package = browse.get_package(session, owner, str(body["package"]))
    return [
        v.file for v in browse.files_of(session, package, body.get("version"), body.get("basename"))
    ]


def _remove(session: Session, request: Request, body: dict[str, Any]) -> None:
    owner, _actor = _writer(session, request)
    label = request.path_params["label"]
    files = _selection(session, owner, body)
    if files is None:
        ops.remove_label(session, ctx(request).store, owner, label)
    else:
        ops.untag(session, ctx(request).store, owner, label, files)


async def remove_label(request: Request) -> Response:
    body = await json_body(request)
    await ctx(request).run(_remove, request, body)
    return JSONResponse({"ok": True}, status_code=201)


def _tag(session: Session, request: Request, body: dict[str, Any]) -> None:
    owner, actor = _writer(session, request)
    files = _selection(session, owner, body) or []
    copy_files(
        session, ctx(request).store, files, owner, request.path_params["label"], False, actor
    )


async def tag_files(request: Request) -> Response:
    body = await json_body(request)
    await ctx(request).run(_tag, request, body)
    return JSONResponse({"ok": True}, status_code=201)


def _copy_files(session: Session, request: Request, body: dict[str, Any]) -> list[dict[str, Any]]:
    p = request.path_params
    principal = need_principal(session, request)
    source = visible_owner(session, principal, p["owner"])
    target = accounts.get_owner(session, body.get("to_owner") or source.name)
    require_write(session, principal, target, WRITE)
    from_label = ops.get_label(session, source, str(body.get("from_channel") or DEFAULT_LABEL))
    if not can_read(session, principal, source, from_label):
        raise NotFound(f"owner {source.name!r} has no label {from_label.name!r}")
    package = browse.get_package(session, source, p["package"])
    views = browse.files_of(session, package, p["version"], p.get("basename") or None)
    files = [v.file for v in views if from_label.name in v.labels]
    if not files:
        raise NotFound(f"no files of {package.name} {p['version']} under {from_label.name!r}")
    copied = copy_files(
        session,
        ctx(request).store,
        files,
        target,
        str(body.get("to_channel") or DEFAULT_LABEL),
        request.method in ("PUT", "PATCH"),
        principal.user_name,
    )
    target_pkg = browse.get_package(session, target, package.name)
    labels = browse.labels_of(session, [f.id for f in copied])
    return [
        file_json(target, target_pkg, browse.FileView(f, v.version, labels.get(f.id, ())))
        for f, v in zip(copied, [v for v in views if v.file in files], strict=True)
    ]


async def copy(request: Request) -> Response:
    body = await json_body(request)
    return JSONResponse(await ctx(request).run(_copy_files, request, body))
