"""Anaconda API: labels ("channels") — list, show, copy, lock, remove — and file copies."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wheelyard.db.models import Owner, Package
from wheelyard.errors import NotFound
from wheelyard.web.anaconda.common import file_json, json_body, need_principal
from wheelyard.web.auth import principal_for
from wheelyard.web.context import ctx
from wheelyard.yard import browse
from wheelyard.yard import labels as ops
from wheelyard.yard.access import missing_label, owner_view, writable_owner
from wheelyard.yard.copying import copy_files, copy_release
from wheelyard.yard.names import DEFAULT_LABEL
from wheelyard.yard.scopes import WRITE


def _list(session: Session, request: Request) -> dict[str, Any]:
    view = owner_view(session, principal_for(request), request.path_params["owner"])
    readable = {label.name for label in view.labels.values()}
    return {
        lb.name: {"is_locked": lb.locked, "num_files": lb.files, "private": lb.private}
        for lb in ops.list_labels(session, view.owner, not view.privileged)
        if lb.name in readable
    }


async def list_labels(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_list, request))


def _show(session: Session, request: Request) -> dict[str, Any]:
    view = owner_view(session, principal_for(request), request.path_params["owner"])
    owner, name = view.owner, request.path_params["label"]
    label = next((lb for lb in view.labels.values() if lb.name == name), None)
    if label is None:
        raise missing_label(owner, name)
    files = []
    for f, package, version in browse.files_in_label(session, label, view):
        pkg = Package(name=package, display_name=package)
        files.append(file_json(owner, pkg, browse.FileView(f, version, ())))
    return {"name": label.name, "is_locked": label.locked, "private": label.private, "files": files}


async def show_label(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_show, request))


def _writer(session: Session, request: Request) -> tuple[Owner, str]:
    owner, principal = writable_owner(
        session, need_principal(request), request.path_params["owner"], WRITE
    )
    return owner, principal.user_name


def _copy(session: Session, request: Request) -> int:
    owner, actor = _writer(session, request)
    p = request.path_params
    return ops.copy_label(session, owner, p["label"], p["target"], actor)


async def copy_label(request: Request) -> Response:
    added = await ctx(request).run(_copy, request)
    return JSONResponse({"ok": True, "added": added}, status_code=201)


def _lock(session: Session, request: Request, locked: bool) -> None:
    owner, actor = _writer(session, request)
    ops.set_locked(session, owner, request.path_params["label"], locked, actor)


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
    version, basename = body.get("version"), body.get("basename")
    return [
        v.file
        for v in browse.files_of(
            session,
            package,
            None if version is None else str(version),
            None if basename is None else str(basename),
        )
    ]


def _remove(session: Session, request: Request, body: dict[str, Any]) -> None:
    owner, actor = _writer(session, request)
    label = request.path_params["label"]
    files = _selection(session, owner, body)
    if files is None:
        ops.remove_label(session, ctx(request).store, owner, label, actor)
    else:
        ops.untag(session, ctx(request).store, owner, label, files, actor)


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
    target, package, copied = copy_release(
        session,
        ctx(request).store,
        need_principal(request),
        p["owner"],
        p["package"],
        p["version"],
        p.get("basename") or None,
        str(body.get("from_channel") or DEFAULT_LABEL),
        str(body["to_owner"]) if body.get("to_owner") else None,
        str(body.get("to_channel") or DEFAULT_LABEL),
        request.method in ("PUT", "PATCH"),
    )
    labels = browse.labels_of(session, [f.id for f, _v in copied])
    return [
        file_json(target, package, browse.FileView(f, v, labels.get(f.id, ()))) for f, v in copied
    ]


async def copy(request: Request) -> Response:
    body = await json_body(request)
    return JSONResponse(await ctx(request).run(_copy_files, request, body))
