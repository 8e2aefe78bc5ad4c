"""Consistency check between the database and blob storage."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import File
from wheelyard.digest import stream_sha256
from wheelyard.storage import BlobStore


@dataclass(frozen=True)
class Problem:
    kind: str  # "missing" | "size" | "hash" | "orphan"
    key: str
    detail: str


def _digest(store: BlobStore, key: str) -> str:
    with store.open(key) as fh:
        return stream_sha256(fh)


def check(session: Session, store: BlobStore, verify_hashes: bool = True) -> Iterator[Problem]:
    """Yield every mismatch: rows without blobs, wrong sizes or digests, blobs without rows."""
    referenced: set[str] = set()
    rows = session.execute(
        select(File.blob_key, File.filename, File.size, File.sha256, File.metadata_sha256)
    )
    for key, filename, size, sha256, meta_sha in rows:
        referenced.add(key)
        if meta_sha:
            referenced.add(key + ".metadata")
        if not store.exists(key):
            yield Problem("missing", key, f"{filename}: blob is missing")
            continue
        if store.size(key) != size:
            yield Problem(
                "size", key, f"{filename}: {store.size(key)} bytes stored, {size} recorded"
            )
        elif verify_hashes and _digest(store, key) != sha256:
            yield Problem("hash", key, f"{filename}: sha256 differs from the recorded {sha256}")
        if meta_sha and not store.exists(key + ".metadata"):
            yield Problem("missing", key + ".metadata", f"{filename}: metadata blob is missing")
        elif meta_sha and verify_hashes and _digest(store, key + ".metadata") != meta_sha:
            yield Problem("hash", key + ".metadata", f"{filename}: metadata sha256 differs")
    for key in store.iter_keys():
        if key not in referenced:
            yield Problem("orphan", key, "blob has no database row")
