"""The blob-store protocol: what a backend (local folder today, an object store next) implements.

Three parts, smallest first:

* ``BlobStore`` — the core every backend has: put (from a staged file, or bytes), open for
  reading with a byte range, size, exists, delete, iterate keys, and an optional direct URL.
* ``Collectable`` — what the garbage collector of ``wheelyard.yard.integrity`` needs to delete
  unreferenced blobs without ever losing one that an upload is publishing again. Content-
  derived keys are shared, so a plain ``delete`` could race a re-publish of the same key; the
  collector instead *claims* a blob (takes it out of service atomically), re-checks, and then
  restores or forgets it. Each method says what an S3 store would do.
* ``LocalFiles`` — an optional capability: a filesystem path per blob, for zero-copy serving.

Staging is not the store's business: the caller writes and validates a temporary local file
(``wheelyard.storage.staging``) and hands the finished file to ``put_file``. A missing key is
``FileNotFoundError`` for every method that reads one; a put that fails raises
``wheelyard.errors.StorageError`` (``InsufficientStorage`` when the medium is full) and
publishes nothing; a malformed key (empty, or a segment that is empty or starts with ".") is
``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable


class BlobStore(Protocol):
    """Immutable blobs under ``/``-separated keys; every write is all-or-nothing."""

    def put_file(self, key: str, path: Path) -> None:
        """Publish the finished local file at ``path`` under ``key`` atomically and durably.

        Readers see the old blob or all of the new one, never a part. The store may take the
        file (the local store renames it into place when it can), so ``path`` must be a file
        the caller staged for this; the caller removes it afterwards if it is still there.
        A publish gives the blob a fresh modification time (see ``Collectable.mtime``).
        S3: PutObject, or a multipart upload for large files (both atomic; the bucket is
        versioned, see ``Collectable.claim``).
        """

    def put_bytes(self, key: str, data: bytes) -> None:
        """Publish a small blob atomically and durably (as ``put_file``)."""

    def open(self, key: str, start: int = 0, end: int | None = None) -> BinaryIO:
        """A binary reader over bytes ``[start, end)`` of the blob (``end=None``: to the end).

        Streamed, not loaded: read it in chunks and close it. A range past the end reads
        short. S3: GetObject with ``Range: bytes=start-(end-1)``, its body as the reader.
        """

    def open_sized(self, key: str, start: int = 0, end: int | None = None) -> tuple[BinaryIO, int]:
        """``open``'s reader and the whole blob's length, both from the one request that opened
        it, so a reader can check the size without asking twice. Local: fstat of the opened
        file. S3: GetObject's Content-Range total (its ContentLength without a range).
        """

    def size(self, key: str) -> int:
        """The blob's length in bytes. S3: HeadObject's ContentLength."""

    def exists(self, key: str) -> bool:
        """Whether a blob is published under ``key``. S3: HeadObject (404 → False)."""

    def delete(self, key: str) -> None:
        """Remove the blob at ``key``; no error when there is none. S3: DeleteObject.

        No yard write path calls this: blobs are shared and removed only by the collector,
        through ``Collectable.claim``, which unlike this cannot race a re-publish.
        """

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Every published key starting with ``prefix`` (a string prefix, as in S3).

        Internal files (staging, claimed blobs, locks) are never listed.
        S3: ListObjectsV2 with ``Prefix``, paginated, skipping the store's own prefixes.
        """

    def check(self) -> None:
        """Raise ``StorageError`` unless the store is there to serve, quickly (``/-/ready``
        asks this of a live server). Local: the store's folder exists and is a folder (a
        listing of a missing folder is merely empty). S3: one ListObjectsV2 of an empty prefix
        (the bucket is there, the credentials good), with timeouts short enough to fail
        within ``/-/ready``'s time limit and no retries.
        """

    def url(
        self, key: str, filename: str | None = None, media_type: str | None = None
    ) -> str | None:
        """A URL a client may download the blob from directly, or None to stream it through
        the yard. When given, the answer to that URL names ``filename`` in its
        ``Content-Disposition`` (``storage.disposition``) and carries ``media_type``, as the
        yard's own response would. Local: None. S3: a short-lived presigned GetObject URL
        with ``response-content-disposition`` / ``response-content-type`` (or None when the
        bucket is not reachable by clients)."""


@dataclass(frozen=True)
class Claim:
    """A blob the collector took out of service: restore it or forget it.

    ``handle`` is the backend's own reference to the claimed copy (local: its path under
    ``.trash/``; S3: the delete marker's and the claimed version's ids).
    ``mtime`` is the claimed copy's publish time, read *after* it was taken out of service.
    """

    key: str
    handle: str
    mtime: float


class Collectable(Protocol):
    """Garbage-collection primitives; the safety argument is in ``wheelyard.yard.integrity``."""

    def collecting(self) -> AbstractContextManager[None]:
        """Hold the store's collector lock: one collection at a time.

        Local: ``flock`` on ``.trash/.lock``. S3: a lock object created with a conditional
        PutObject (``If-None-Match: *``) carrying a lease time, deleted on exit.
        """

    def mtime(self, key: str) -> float | None:
        """When the blob at ``key`` was last published (epoch seconds); None when there is
        none. S3: HeadObject's LastModified."""

    def claim(self, key: str) -> Claim | None:
        """Take the blob at ``key`` out of service atomically; None when there is none.

        After this the key reads as missing, and a concurrent publish of the same key is never
        lost: it either happened before (and is what was claimed, with its fresh mtime) or
        lands after (and stays). Local: rename into ``.trash/``. S3 (versioned bucket):
        DeleteObject without a version id adds a delete marker (the key reads as missing at
        once); the newest real version beneath it is the claim, and its LastModified, read
        after the marker, the claim's mtime. A publish after the marker becomes current.
        """

    def restore(self, claim: Claim) -> None:
        """Put a claimed blob back, never over a copy published meanwhile (same bytes).

        Local: ``link`` (fails rather than overwrite). S3: delete the claim's delete marker by
        its version id — the claimed version is current again, or a newer publish stays so.
        """

    def forget(self, claim: Claim) -> None:
        """Delete a claimed blob for good. S3: DeleteObject of the claimed version (and those
        beneath it) by version id; a version published after the marker is untouched."""

    def pending_claims(self) -> Iterator[Claim]:
        """Claims left by a collector that stopped half-way (each must be settled again).

        Local: the files in ``.trash/``. S3: keys whose current version is a delete marker,
        found with ListObjectVersions.
        """

    def sweep_incomplete(self, older_than: float) -> int:
        """Delete the store's own half-written temporaries older than ``older_than`` seconds
        (left by a process killed mid-put); returns how many. Local: ``.staging/*.part``
        files. S3: AbortMultipartUpload for uploads listed by ListMultipartUploads."""


class YardStore(BlobStore, Collectable, Protocol):
    """What a backend implements to hold a yard's files: the core plus collection."""


@runtime_checkable
class LocalFiles(Protocol):
    """Optional: blobs are files on this machine, served without copying."""

    def local_path(self, key: str) -> Path | None:
        """The blob's filesystem path (which may not exist), or None."""
