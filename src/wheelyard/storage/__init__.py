"""Blob storage behind one small interface: stage a file, commit it atomically, read, collect.

Uploads are first written to a staged local file (hashed while streaming, so memory stays
constant), validated there, and only then committed under their final key. Keys are derived
from content and shared, so nothing deletes a blob directly: unreferenced blobs are collected
after a grace period through claims (see ``wheelyard.yard.integrity.collect_garbage``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, Protocol

from wheelyard.storage.local import Claim
from wheelyard.storage.staging import StagedFile


class BlobStore(Protocol):
    def stage(self) -> StagedFile:
        """A new empty staged file; discarded on close unless committed."""

    def commit(self, staged: StagedFile, key: str) -> None:
        """Make the staged bytes durable under ``key``; readers see all of it or nothing."""

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store a small blob atomically."""

    def sweep_staging(self, older_than: float) -> int:
        """Delete abandoned staging files older than ``older_than`` seconds."""

    def open(self, key: str) -> BinaryIO: ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path for zero-copy serving, when the store has one."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def mtime(self, key: str) -> float | None:
        """When the blob was last published; None when there is none."""

    def iter_keys(self) -> Iterator[str]: ...

    def collecting(self) -> AbstractContextManager[None]:
        """Hold the store's collector lock (one garbage collection at a time)."""

    def claim(self, key: str) -> Claim | None:
        """Take the blob at ``key`` out of service atomically; None when there is none."""

    def restore(self, claim: Claim) -> None:
        """Put a claimed blob back, never over a copy published meanwhile."""

    def forget(self, claim: Claim) -> None:
        """Delete a claimed blob for good."""

    def pending_claims(self) -> Iterator[Claim]:
        """Claims left behind by a collector that stopped half-way."""


def open_store(url: str, limit: int | None = None) -> BlobStore:
    """A store for ``url``: a folder path or ``file://`` URL (S3 is planned behind the same API)."""
    from wheelyard.storage.local import LocalStore

    if url.startswith("s3://"):
        from wheelyard.yard.errors import InvalidInput

        raise InvalidInput("S3 storage is not available in this version (WHEELYARD_STORAGE_URL)")
    return LocalStore(Path(url.removeprefix("file://")), limit)
