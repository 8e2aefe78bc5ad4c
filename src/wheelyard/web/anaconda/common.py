"""Shared pieces of the Anaconda-compatible API: principals, owners, JSON shapes of the yard."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.requests import Request

from wheelyard.db.models import File, Owner, Package, as_utc
from wheelyard.errors import InvalidInput, Unauthenticated
from wheelyard.web.auth import principal_for
from wheelyard.yard.browse import FileView
from wheelyard.yard.tokens import Principal


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else as_utc(moment).isoformat()


def need_principal(request: Request) -> Principal:
    principal = principal_for(request)
    if principal is None:
        raise Unauthenticated("Authentication required")
    return principal


async def json_body(request: Request) -> dict[str, Any]:
    """The JSON object the request carries, read up to ``WHEELYARD_MAX_JSON`` bytes (413 beyond,
    without reading the rest) — callers read it before checking credentials."""
    from wheelyard.web.context import ctx  # local: keeps this module's imports as they are
    from wheelyard.web.multipart import read_limited

    raw = await read_limited(request, ctx(request).settings.max_json, "JSON body")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidInput("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("request body must be a JSON object")
    return data


def user_json(owner: Owner) -> dict[str, Any]:
    return {
        "login": owner.name,
        "name": owner.name,
        "user_type": "user" if owner.kind == "user" else "org",
        "created_at": iso(owner.created_at),
        "company": None,
        "location": None,
        "url": None,
        "description": "",
    }


def _attrs(file: File) -> dict[str, Any]:
    if file.kind == "sdist":
        return {"packagetype": "sdist", "python_version": "source", "abi": None, "build_no": 0}
    parts = file.filename[:-4].split("-")
    build = parts[2] if len(parts) == 6 else 0
    return {
        "packagetype": "bdist_wheel",
        "python_version": parts[-3],
        "abi": None if parts[-2] == "none" else parts[-2],
        "platform": parts[-1],
        "build_no": build,
        # wheelyard's own: None until derived for a file stored before they were recorded
        "manylinux_policy": None if file.platform_policy is None else file.platform_policy.split(),
        "grafted_libraries": None if file.grafted_libs is None else file.grafted_libs.splitlines(),
    }


def file_json(owner: Owner, package: Package, view: FileView, downloads: int = 0) -> dict[str, Any]:
    f = view.file
    return {
        "basename": f.filename,
        "full_name": f"{owner.name}/{package.name}/{view.version}/{f.filename}",
        "owner": owner.name,
        "version": view.version,
        "type": "pypi",
        "distribution_type": "pypi",
        "size": f.size,
        "sha256": f.sha256,
        "md5": None,
        "upload_time": iso(f.upload_time),
        "labels": list(view.labels),
        "attrs": _attrs(f),
        "description": None,
        "dependencies": {},
        "download_url": f"/download/{owner.name}/{package.name}/{view.version}/{f.filename}",
        "ndownloads": downloads,
    }
