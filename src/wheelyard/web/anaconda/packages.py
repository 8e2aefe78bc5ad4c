"""Anaconda API: packages, releases and files — show, create, remove, list and download."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wheelyard.db.models import Owner, Package
from wheelyard.errors import NotFound
from wheelyard.web.anaconda.common import file_json, iso, json_body, need_principal
from wheelyard.web.auth import principal_for
from wheelyard.web.context import ctx
from wheelyard.web.files import send_checked
from wheelyard.yard import browse, downloads, pending
from wheelyard.yard import packages as pkgs
from wheelyard.yard.access import View, owner_view, writable_owner
from wheelyard.yard.removal import remove_release
from wheelyard.yard.scopes import UPLOAD, WRITE


def _files_json(
    session: Session, owner: Owner, package: Package, views: list[browse.FileView]
) -> list[dict[str, Any]]:
    counts = downloads.per_file(session, [v.file.id for v in views])
    return [file_json(owner, package, v, counts.get(v.file.id, 0)) for v in views]


def package_json(
    session: Session, owner: Owner, package: Package, view: View | None
) -> dict[str, Any]:
    """The package as the API shows it; ``view`` (a reader's) leaves out what it may not see."""
    views = browse.files_of(session, package, view=view)
    releases = browse.releases_of(session, package, view)
    versions = [r.version for r in releases]
    return {
        "name": package.display_name,
        "normalized_name": package.name,
        "full_name": f"{owner.name}/{package.name}",
        "owner": {"login": owner.name},
        "summary": package.summary or "",
        "description": "",
        "public": not (package.private or owner.private),
        "package_types": ["pypi"],
        "conda_platforms": [],
        "builds": [],
        "versions": versions,
        "latest_version": versions[-1] if versions else None,
        "releases": [
            {"version": v, "full_name": f"{owner.name}/{package.name}/{v}"} for v in versions
        ],
        "files": _files_json(session, owner, package, views),
        "created_at": iso(package.created_at),
        "url": f"/package/{owner.name}/{package.name}",
    }


def _lookup(session: Session, request: Request) -> tuple[View, Package]:
    view = owner_view(session, principal_for(request), request.path_params["owner"])
    package = browse.get_package(session, view.owner, request.path_params["package"], view)
    return view, package


def _show_package(session: Session, request: Request) -> dict[str, Any]:
    view, package = _lookup(session, request)
    return package_json(session, view.owner, package, view)


async def show_package(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_show_package, request))


def _writer(session: Session, request: Request, scopes: tuple[str, ...] = UPLOAD) -> Owner:
    owner, _principal = writable_owner(
        session, need_principal(request), request.path_params["owner"], scopes
    )
    return owner


def _create_package(session: Session, request: Request, body: dict[str, Any]) -> dict[str, Any]:
    owner = _writer(session, request)
    actor = need_principal(request).user_name
    attrs = body.get("public_attrs") or {}
    if not isinstance(attrs, dict):
        attrs = {}
    package = pkgs.ensure_package(
        session,
        owner,
        request.path_params["package"],
        str(attrs["name"]) if attrs.get("name") else None,
        str(attrs["summary"]) if attrs.get("summary") else None,
        actor,
    )
    if "public" in body:
        pkgs.set_package_private(session, owner, package, not bool(body["public"]), actor)
    return package_json(session, owner, package, None)


async def create_package(request: Request) -> Response:
    body = await json_body(request)
    return JSONResponse(await ctx(request).run(_create_package, request, body))


def _release_json(
    session: Session, owner: Owner, package: Package, version: str, view: View | None
) -> dict[str, Any]:
    release = browse.get_visible_release(session, package, version, view)
    views = browse.files_of(session, package, release.version, view=view)
    return {
        "version": release.version,
        "full_name": f"{owner.name}/{package.name}/{release.version}",
        "distributions": _files_json(session, owner, package, views),
        "public_attrs": {"description": ""},
        "description": "",
    }


def _show_release(session: Session, request: Request) -> dict[str, Any]:
    view, package = _lookup(session, request)
    return _release_json(session, view.owner, package, request.path_params["version"], view)


async def show_release(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_show_release, request))


def _create_release(session: Session, request: Request) -> dict[str, Any]:
    owner = _writer(session, request)
    package = browse.get_package(session, owner, request.path_params["package"])
    release = pkgs.ensure_release_row(session, package, request.path_params["version"])
    return _release_json(session, owner, package, release.version, None)


async def create_release(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_create_release, request))


def _patch(session: Session, request: Request) -> dict[str, Any]:
    _writer(session, request)
    return {"ok": True}


async def patch(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_patch, request))


def _remove(session: Session, request: Request) -> None:
    """DELETE of a release or a whole package: every file, then the rows left empty."""
    owner = _writer(session, request, WRITE)
    package = browse.get_package(session, owner, request.path_params["package"])
    actor = need_principal(request).user_name
    version = request.path_params.get("version")
    remove_release(session, ctx(request).store, owner, package, version, actor)


async def remove(request: Request) -> Response:
    await ctx(request).run(_remove, request)
    return JSONResponse({"ok": True}, status_code=201)


def _one_file(
    session: Session, request: Request, owner: Owner, package: Package, view: View | None
) -> browse.FileView:
    p = request.path_params
    views = browse.files_of(session, package, p["version"], p["basename"], view)
    if not views:
        raise NotFound(
            f"file {owner.name}/{package.name}/{p['version']}/{p['basename']} does not exist"
        )
    return views[0]


def _find(session: Session, request: Request) -> tuple[Owner, Package, browse.FileView]:
    view, package = _lookup(session, request)
    return view.owner, package, _one_file(session, request, view.owner, package, view)


def _show_file(session: Session, request: Request) -> dict[str, Any]:
    owner, package, view = _find(session, request)
    return _files_json(session, owner, package, [view])[0]


async def show_file(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_show_file, request))


def _remove_file(session: Session, request: Request) -> dict[str, Any]:
    """Delete a file from every label, after the removal delay (see yard/pending.py)."""
    owner = _writer(session, request, UPLOAD)
    package = browse.get_package(session, owner, request.path_params["package"])
    view = _one_file(session, request, owner, package, None)
    delay = ctx(request).settings.removal_delay
    due = pending.request_removal(
        session, owner, view.file, need_principal(request).user_name, delay
    )
    return {
        "ok": True,
        "basename": view.file.filename,
        "labels": list(view.labels),
        "removal_due_at": iso(due.due_at),
    }


async def remove_file(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_remove_file, request))


def _packages(session: Session, request: Request) -> list[dict[str, Any]]:
    view = owner_view(session, principal_for(request), request.path_params["owner"])
    result = []
    for package in browse.packages_of(session, view.owner, view):
        data = package_json(session, view.owner, package, view)
        data.pop("files")
        result.append(data)
    return result


async def list_packages(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_packages, request))


async def download(request: Request) -> Response:
    c = ctx(request)
    _owner, _package, view = await c.run(_find, request)
    f = view.file
    media = "application/octet-stream"
    answer = await run_in_threadpool(
        send_checked, request, c.store, f.blob_key, f.size, f.sha256, media, {}, f.filename
    )
    if request.method == "GET":
        c.downloads.count(f.id, None)
    return answer
