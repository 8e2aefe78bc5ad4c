"""Anaconda API: packages, releases and files — show, create, remove, list and download."""

from __future__ import annotations

from typing import Any

from packaging.utils import canonicalize_name
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from wheelyard.db.models import Owner, Package, Release
from wheelyard.web.anaconda.common import (
    file_json,
    iso,
    json_body,
    need_principal,
    visible,
    visible_owner,
)
from wheelyard.web.auth import principal_for
from wheelyard.web.context import ctx
from wheelyard.yard import accounts, browse
from wheelyard.yard.access import require_write
from wheelyard.yard.errors import NotFound
from wheelyard.yard.removal import remove_files
from wheelyard.yard.scopes import UPLOAD, WRITE


def package_json(session: Session, owner: Owner, package: Package) -> dict[str, Any]:
    views = browse.files_of(session, package)
    releases = browse.releases_of(session, package)
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
        "files": [file_json(owner, package, v) for v in views],
        "created_at": iso(package.created_at),
        "url": f"/package/{owner.name}/{package.name}",
    }


def _lookup(session: Session, request: Request) -> tuple[Owner, Package]:
    principal = principal_for(session, request)
    owner = visible_owner(session, principal, request.path_params["owner"])
    package = browse.get_package(session, owner, request.path_params["package"])
    visible(session, principal, owner, package)
    return owner, package


def _show_package(session: Session, request: Request) -> dict[str, Any]:
    owner, package = _lookup(session, request)
    return package_json(session, owner, package)


async def show_package(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_show_package, request))


def _writer(session: Session, request: Request, scopes: tuple[str, ...] = UPLOAD) -> Owner:
    owner = accounts.get_owner(session, request.path_params["owner"])
    require_write(session, need_principal(session, request), owner, scopes)
    return owner


def _create_package(session: Session, request: Request, body: dict[str, Any]) -> dict[str, Any]:
    owner = _writer(session, request)
    raw = request.path_params["package"]
    attrs = body.get("public_attrs") or {}
    try:
        package = browse.get_package(session, owner, raw)
    except NotFound:
        package = Package(
            owner_id=owner.id,
            name=canonicalize_name(raw),
            display_name=str(attrs.get("name") or raw),
        )
        session.add(package)
    if attrs.get("summary"):
        package.summary = str(attrs["summary"])
    if "public" in body:
        package.private = not bool(body["public"])
    session.commit()
    return package_json(session, owner, package)


async def create_package(request: Request) -> Response:
    body = await json_body(request)
    return JSONResponse(await ctx(request).run(_create_package, request, body))


def _release_json(session: Session, owner: Owner, package: Package, version: str) -> dict[str, Any]:
    release = browse.get_release(session, package, version)
    views = browse.files_of(session, package, release.version)
    return {
        "version": release.version,
        "full_name": f"{owner.name}/{package.name}/{release.version}",
        "distributions": [file_json(owner, package, v) for v in views],
        "public_attrs": {"description": ""},
        "description": "",
    }


def _show_release(session: Session, request: Request) -> dict[str, Any]:
    owner, package = _lookup(session, request)
    return _release_json(session, owner, package, request.path_params["version"])


async def show_release(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_show_release, request))


def _create_release(session: Session, request: Request) -> dict[str, Any]:
    owner = _writer(session, request)
    package = browse.get_package(session, owner, request.path_params["package"])
    version = browse.normal_version(request.path_params["version"])
    try:
        browse.get_release(session, package, version)
    except NotFound:
        session.add(Release(package_id=package.id, version=version))
        session.commit()
    return _release_json(session, owner, package, version)


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
    version = request.path_params.get("version")
    row: Package | Release = browse.get_release(session, package, version) if version else package
    files = [v.file for v in browse.files_of(session, package, version)]
    remove_files(
        session, ctx(request).store, owner, files, need_principal(session, request).user_name
    )
    stale = session.get(type(row), row.id)  # still there if it held no files
    if stale is not None:
        session.delete(stale)
        session.commit()


async def remove(request: Request) -> Response:
    await ctx(request).run(_remove, request)
    return JSONResponse({"ok": True}, status_code=201)


def _find(session: Session, request: Request) -> tuple[Owner, Package, browse.FileView]:
    owner, package = _lookup(session, request)
    p = request.path_params
    views = browse.files_of(session, package, p["version"], p["basename"])
    if not views:
        raise NotFound(
            f"file {owner.name}/{package.name}/{p['version']}/{p['basename']} does not exist"
        )
    return owner, package, views[0]


def _show_file(session: Session, request: Request) -> dict[str, Any]:
    return file_json(*_find(session, request))


async def show_file(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_show_file, request))


def _remove_file(session: Session, request: Request) -> dict[str, Any]:
    owner = _writer(session, request, UPLOAD)
    _o, _p, view = _find(session, request)
    remove_files(
        session,
        ctx(request).store,
        owner,
        [view.file],
        need_principal(session, request).user_name,
        single=True,
    )
    return {"ok": True, "basename": view.file.filename}


async def remove_file(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_remove_file, request))


def _packages(session: Session, request: Request) -> list[dict[str, Any]]:
    principal = principal_for(session, request)
    owner = visible_owner(session, principal, request.path_params["owner"])
    result = []
    for package in browse.packages_of(session, owner):
        try:
            visible(session, principal, owner, package)
        except NotFound:
            continue
        data = package_json(session, owner, package)
        data.pop("files")
        result.append(data)
    return result


async def list_packages(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_packages, request))


async def download(request: Request) -> Response:
    c = ctx(request)
    _owner, _package, view = await c.run(_find, request)
    path = c.store.local_path(view.file.blob_key)
    if path is None or not path.is_file():
        raise NotFound(f"{view.file.filename}: stored file is missing")
    return FileResponse(path, media_type="application/octet-stream", filename=view.file.filename)
