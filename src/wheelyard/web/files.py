"""File downloads (with Range, streamed from storage) and PEP 658 metadata under a label."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from wheelyard.storage import BlobStore
from wheelyard.web.auth import principal_for
from wheelyard.web.context import ctx
from wheelyard.web.simple import label_of
from wheelyard.yard import catalog
from wheelyard.yard.access import can_read_private, is_private, readable_label
from wheelyard.yard.errors import NotFound

_CHUNK = 256 * 1024


def _locate(
    session: Session, request: Request, sha256: str, filename: str
) -> tuple[str, int, bool]:
    principal = principal_for(session, request)
    owner, label = readable_label(
        session, principal, request.path_params["owner"], label_of(request)
    )
    found = catalog.file_in_label(session, label.id, sha256, filename)
    if found is None or (found[1] and not can_read_private(session, principal, owner)):
        raise NotFound(f"no file {filename} under this label")
    file, package_private = found
    return file.blob_key, file.size, is_private(owner, label) or package_private


def _stream(store: BlobStore, key: str):  # type: ignore[no-untyped-def]
    with store.open(key) as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


Locator = Callable[[Session, Request, str, str], tuple[str, int, bool]]


async def download(request: Request) -> Response:
    return await serve(request, _locate)


async def serve(request: Request, locate: Locator) -> Response:
    """A file or its PEP 658 metadata, found by ``locate`` (blob key, size, private)."""
    sha256 = str(request.path_params["sha256"])
    name = str(request.path_params["filename"])
    metadata = name.endswith(".metadata")
    filename = name.removesuffix(".metadata")
    c = ctx(request)
    key, size, private = await c.run(locate, request, sha256, filename)
    if metadata:
        key += ".metadata"
        if not filename.endswith(".whl"):
            raise NotFound(f"no metadata file for {filename}")
    headers = {
        "ETag": f'"{sha256}{"-m" if metadata else ""}"',
        "Cache-Control": "private, max-age=0" if private else "public, max-age=31536000, immutable",
    }
    media = "text/plain; charset=utf-8" if metadata else "application/octet-stream"
    path: Path | None = c.store.local_path(key)
    if path is not None:
        if not path.is_file():
            raise NotFound(f"{filename}: stored file is missing")
        headers["Content-Disposition"] = f'attachment; filename="{Path(name).name}"'
        return FileResponse(path, media_type=media, headers=headers)
    if not metadata:
        headers["Content-Length"] = str(size)
    return StreamingResponse(_stream(c.store, key), media_type=media, headers=headers)
