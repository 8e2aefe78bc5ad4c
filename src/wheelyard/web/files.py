"""File downloads (with Range, streamed from storage) and PEP 658 metadata under a label.

A stored file is checked before it is answered: its size always, its sha256 when that is cheap
(metadata files, small files). A damaged or missing one answers 503 "stored file is damaged",
never 200 and never with a cache header. ``send_checked`` checks and answers with the store's
best means: a zero-copy file response when the blob is a local file, a redirect when the store
has a direct URL, else the bytes through the protocol (honouring a single byte range), the
checks riding on the same read: one GET per small file on S3, whose bytes are then answered.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from wheelyard.db.session import read_unit
from wheelyard.errors import DamagedBlob, NotFound
from wheelyard.storage import BlobStore, LocalFiles
from wheelyard.storage.disposition import attachment
from wheelyard.web.auth import principal_for
from wheelyard.web.context import YardContext, ctx
from wheelyard.web.simple import label_of
from wheelyard.yard.access import readable_file

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
    label, file, private = readable_file(
        session,
        principal_for(request),
        request.path_params["owner"],
        label_of(request),
        sha256,
        filename,
    )
    return Located(file.blob_key, file.size, file.metadata_sha256, private, file.id, label.id)


def _drain(fh: BinaryIO) -> Iterator[bytes]:
    with fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


def _stream(store: BlobStore, key: str, start: int, end: int) -> Iterator[bytes]:
    yield from _drain(store.open(key, start, end))  # opened when the answer starts


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


def _unsatisfiable(size: int) -> Response:
    return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})


def _span(request: Request, headers: dict[str, str], size: int) -> tuple[int, int, int] | None:
    """The answer's (status, start, end) for the request's Range — ignored when an If-Range
    names another version — with the length (and range) headers set; None when the range
    cannot be satisfied (answer ``_unsatisfiable``)."""
    if_range = request.headers.get("if-range")
    wanted = request.headers.get("range") if if_range in (None, headers.get("ETag")) else None
    try:
        span = byte_range(wanted, size)
    except ValueError:
        return None
    headers["Accept-Ranges"] = "bytes"
    start, end = span or (0, size)
    headers["Content-Length"] = str(end - start)
    if span is None:
        return 200, 0, size
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return 206, start, end


def _redirect(url: str) -> Response:
    # A short-lived direct URL: never cache the redirect.
    return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})


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
    if url is not None:
        return _redirect(url)
    span = _span(request, headers, size)
    if span is None:
        return _unsatisfiable(size)
    status, start, end = span
    return StreamingResponse(
        _stream(store, key, start, end), status_code=status, media_type=media_type, headers=headers
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


def _checked_bytes(store: BlobStore, key: str, size: int, sha256: str, filename: str) -> bytes:
    """A small blob's bytes (one read: at most HASH_LIMIT + 1 bytes held), checked against the
    recorded size and digest."""
    try:
        with store.open(key) as fh:
            data = fh.read(HASH_LIMIT + 1)
    except FileNotFoundError:
        raise _damaged(filename, "missing from storage") from None
    if len(data) != size:
        stored = f"{len(data)}" if len(data) <= HASH_LIMIT else f"over {HASH_LIMIT}"
        raise _damaged(filename, f"{stored} bytes stored, {size} recorded")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise _damaged(filename, "sha256 differs from the recorded one")
    return data


def _checked_reader(
    store: BlobStore, key: str, size: int, filename: str, start: int, end: int
) -> BinaryIO:
    """A reader over bytes ``[start, end)`` of a big blob whose size, told by the same
    request that opened it, is the recorded one."""
    try:
        fh, actual = store.open_sized(key, start, end)
    except FileNotFoundError:
        raise _damaged(filename, "missing from storage") from None
    if actual != size:
        fh.close()
        raise _damaged(filename, f"{actual} bytes stored, {size} recorded")
    return fh


def send_checked(
    request: Request,
    store: BlobStore,
    key: str,
    size: int,
    sha256: str,
    media_type: str,
    headers: dict[str, str],
    filename: str,
) -> Response:
    """Check blob ``key`` against its recorded size (and digest, when small) and answer it;
    blocking: call it in a worker thread. A damaged or missing blob raises DamagedBlob.

    A local file is checked, then sent without copying. Elsewhere every check rides on the
    read that answers: a small blob is read once (at most HASH_LIMIT bytes held), checked and
    answered from memory, ranges cut from the bytes in hand; a big one is checked by the size
    its own GET reports before a byte is sent. A presigned redirect follows the same checks.
    """
    if isinstance(store, LocalFiles) and store.local_path(key) is not None:
        verified_file(store, key, size, sha256, filename)
        return send_blob(request, store, key, size, media_type, headers, filename)
    headers = {**headers, "Content-Disposition": attachment(filename)}
    if size <= HASH_LIMIT:
        data = _checked_bytes(store, key, size, sha256, filename)
        url = store.url(key, filename, media_type)
        if url is not None:
            return _redirect(url)
        span = _span(request, headers, size)
        if span is None:
            return _unsatisfiable(size)
        status, start, end = span
        return Response(data[start:end], status, headers, media_type)
    # A big blob streams once its GET reported the recorded size; with no bytes to stream (a
    # redirect, HEAD, an unsatisfiable range) one HeadObject checks the size alone.
    url = store.url(key, filename, media_type)
    if url is not None:
        verified_file(store, key, size, sha256, filename)
        return _redirect(url)
    span = _span(request, headers, size)
    if span is None:
        verified_file(store, key, size, sha256, filename)
        return _unsatisfiable(size)
    status, start, end = span
    if request.method == "HEAD":
        verified_file(store, key, size, sha256, filename)
        return Response(None, status, headers, media_type)
    fh = _checked_reader(store, key, size, filename, start, end)
    return StreamingResponse(_drain(fh), status, headers, media_type)


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
    c = ctx(request)
    counted, answer = await run_in_threadpool(_answer, c, request, locate)
    if counted is not None and counted.file_id and request.method == "GET":
        c.downloads.count(counted.file_id, counted.label_id)  # in memory; written in batches
    return answer


def _answer(c: YardContext, request: Request, locate: Locator) -> tuple[Located | None, Response]:
    """Find the file (a read-only unit, over before storage is read), check it and answer it,
    all in one worker thread; with the file when the answer is a download to count."""
    sha256 = str(request.path_params["sha256"])
    name = str(request.path_params["filename"])
    metadata = name.endswith(".metadata")
    filename = name.removesuffix(".metadata")
    found = read_unit(c.sessions, locate, request, sha256, filename)
    cache = "private, max-age=0" if found.private else "public, max-age=31536000, immutable"
    headers = {"ETag": f'"{sha256}{"-m" if metadata else ""}"', "Cache-Control": cache}
    if not metadata:
        media = "application/octet-stream"
        sent = send_checked(
            request, c.store, found.key, found.size, sha256, media, headers, filename
        )
        return found, sent
    if not filename.endswith(".whl"):
        raise NotFound(f"no metadata file for {filename}")
    data = _verified_metadata(c.store, found.key + ".metadata", found.metadata_sha256, filename)
    headers["Content-Disposition"] = attachment(name)
    return None, Response(data, media_type="text/plain; charset=utf-8", headers=headers)
