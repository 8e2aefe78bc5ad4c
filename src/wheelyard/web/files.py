"""File downloads (with Range, streamed from storage) and PEP 658 metadata under a label.

A stored file is checked before it is answered: its size always, its sha256 when that is cheap
(metadata files, small files). A damaged or missing one answers 503 "stored file is damaged",
never 200 and never with a cache header.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from wheelyard.db.models import File
from wheelyard.storage import BlobStore
from wheelyard.web.auth import principal_for
from wheelyard.web.context import ctx
from wheelyard.web.simple import label_of
from wheelyard.yard import catalog
from wheelyard.yard.access import can_read_private, is_private, readable_label
from wheelyard.yard.errors import DamagedBlob, NotFound

log = logging.getLogger("wheelyard.web")
_CHUNK = 256 * 1024
HASH_LIMIT = 1024 * 1024  # files up to this size are re-hashed on every download


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


def _damaged(filename: str, why: str) -> DamagedBlob:
    log.error("not serving %s: %s (run `wheelyard check`)", filename, why)
    return DamagedBlob(f"stored file is damaged: {filename} ({why}); it is not served")


def verified_file(store: BlobStore, key: str, size: int, sha256: str, filename: str) -> None:
    """Refuse a blob whose size (or, when small, digest) is not the recorded one."""
    try:
        actual = store.size(key)
    except FileNotFoundError:
        raise _damaged(filename, "missing from storage") from None
    if actual != size:
        raise _damaged(filename, f"{actual} bytes stored, {size} recorded")
    if size <= HASH_LIMIT:
        with store.open(key) as fh:
            if hashlib.sha256(fh.read()).hexdigest() != sha256:
                raise _damaged(filename, "sha256 differs from the recorded one")


def _verified_metadata(session: Session, store: BlobStore, key: str, filename: str) -> bytes:
    """The metadata file's bytes, checked against the digest recorded at upload."""
    base = key.removesuffix(".metadata")
    recorded = session.scalar(select(File.metadata_sha256).where(File.blob_key == base).limit(1))
    try:
        with store.open(key) as fh:
            data = fh.read()
    except FileNotFoundError:
        raise _damaged(filename + ".metadata", "missing from storage") from None
    if recorded is not None and hashlib.sha256(data).hexdigest() != recorded:
        raise _damaged(filename + ".metadata", "sha256 differs from the recorded one")
    return data


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
    if metadata:
        data = await c.run(_verified_metadata, c.store, key, filename)
        headers["Content-Disposition"] = f'attachment; filename="{Path(name).name}"'
        return Response(data, media_type=media, headers=headers)
    await run_in_threadpool(verified_file, c.store, key, size, sha256, filename)
    path: Path | None = c.store.local_path(key)
    if path is not None:
        headers["Content-Disposition"] = f'attachment; filename="{Path(name).name}"'
        return FileResponse(path, media_type=media, headers=headers)
    headers["Content-Length"] = str(size)
    return StreamingResponse(_stream(c.store, key), media_type=media, headers=headers)
