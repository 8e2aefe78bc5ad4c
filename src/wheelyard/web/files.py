"""File downloads (with Range, streamed from storage) and PEP 658 metadata under a label.

A stored file is checked before it is answered: its size always, its sha256 when that is cheap
(metadata files, small files). A damaged or missing one answers 503 "stored file is damaged",
never 200 and never with a cache header. ``send_blob`` answers with the store's best means: a
zero-copy file response when the blob is a local file, a redirect when the store has a direct
URL, else a stream through the protocol (honouring a single byte range, as files do).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from wheelyard.errors import DamagedBlob, NotFound
from wheelyard.storage import BlobStore, LocalFiles
from wheelyard.storage.disposition import attachment
from wheelyard.web.auth import principal_for
from wheelyard.web.context import ctx
from wheelyard.web.simple import label_of
from wheelyard.yard import catalog
from wheelyard.yard.access import can_read_private, is_private, readable_label

log = logging.getLogger("wheelyard.web")
_CHUNK = 256 * 1024
HASH_LIMIT = 1024 * 1024  # files up to this size are re-hashed on every download


@dataclass(frozen=True)
class Located:
    """A file a reader may download: its blob, size, metadata digest, and whether private."""

    key: str
    size: int
    metadata_sha256: str | None
    private: bool
    file_id: int = 0  # for the download count (0: not counted)
    label_id: int | None = None  # the label it was downloaded through, if one


def _locate(session: Session, request: Request, sha256: str, filename: str) -> Located:
    principal = principal_for(request)
    owner, label = readable_label(
        session, principal, request.path_params["owner"], label_of(request)
    )
    found = catalog.file_in_label(session, label.id, sha256, filename)
    if found is None or (found[1] and not can_read_private(session, principal, owner)):
        raise NotFound(f"no file {filename} under this label")
    file, package_private = found
    private = is_private(owner, label) or package_private
    return Located(file.blob_key, file.size, file.metadata_sha256, private, file.id, label.id)


def _stream(store: BlobStore, key: str, start: int, end: int) -> Iterator[bytes]:
    with store.open(key, start, end) as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range a ``Range`` header asks for, as ``(start, end)`` with ``end``
    exclusive; None for the whole file (no header, several ranges, or a malformed one, which
    RFC 9110 lets a server ignore). Raises ValueError when the range is not satisfiable."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, dash, last = header[len("bytes=") :].strip().partition("-")
    if not dash or not (first or last) or not (first or "0").isdigit():
        return None
    if last and not last.isdigit():
        return None
    if not first:  # "-n": the last n bytes
        if int(last) == 0 or size == 0:
            raise ValueError("empty suffix range")
        return max(0, size - int(last)), size
    start = int(first)
    if start >= size:
        raise ValueError("range starts past the end")
    end = min(int(last) + 1, size) if last else size
    if end <= start:
        return None  # "5-3" is malformed: ignore it
    return start, end


def send_blob(
    request: Request,
    store: BlobStore,
    key: str,
    size: int,
    media_type: str,
    headers: dict[str, str],
    filename: str | None = None,
) -> Response:
    """The response carrying blob ``key`` (``size`` bytes, already verified), saved by
    clients as ``filename`` when one is given."""
    headers = dict(headers)
    if filename is not None:
        headers["Content-Disposition"] = attachment(filename)
    path = store.local_path(key) if isinstance(store, LocalFiles) else None
    if path is not None:  # zero copy, and Starlette serves ranges itself
        return FileResponse(path, media_type=media_type, headers=headers)
    url = store.url(key, filename, media_type)
    if url is not None:  # a short-lived direct URL: never cache the redirect
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    headers["Accept-Ranges"] = "bytes"
    if_range = request.headers.get("if-range")
    wanted = request.headers.get("range") if if_range in (None, headers.get("ETag")) else None
    try:
        span = byte_range(wanted, size)
    except ValueError:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    start, end = span or (0, size)
    headers["Content-Length"] = str(end - start)
    if span is None:
        return StreamingResponse(
            _stream(store, key, 0, size), media_type=media_type, headers=headers
        )
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return StreamingResponse(
        _stream(store, key, start, end), status_code=206, media_type=media_type, headers=headers
    )


Locator = Callable[[Session, Request, str, str], Located]


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


def _verified_metadata(store: BlobStore, key: str, recorded: str | None, filename: str) -> bytes:
    """The metadata file's bytes, checked against the digest recorded at upload."""
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
    """A file or its PEP 658 metadata, found by ``locate``."""
    sha256 = str(request.path_params["sha256"])
    name = str(request.path_params["filename"])
    metadata = name.endswith(".metadata")
    filename = name.removesuffix(".metadata")
    c = ctx(request)
    found = await c.run(locate, request, sha256, filename)
    key, size, private = found.key, found.size, found.private
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
        data = await run_in_threadpool(
            _verified_metadata, c.store, key, found.metadata_sha256, filename
        )
        headers["Content-Disposition"] = attachment(name)
        return Response(data, media_type=media, headers=headers)
    await run_in_threadpool(verified_file, c.store, key, size, sha256, filename)
    if found.file_id and request.method == "GET":
        c.downloads.count(found.file_id, found.label_id)  # in memory; written in batches
    return send_blob(request, c.store, key, size, media, headers, filename)
