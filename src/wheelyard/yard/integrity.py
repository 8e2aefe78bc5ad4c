"""Consistency between the database and blob storage: the check, and garbage collection.

Blob keys are content-derived and shared between files, copies and staged transfers, so no
write path deletes a blob: removals only drop rows, and ``collect_garbage`` later deletes blobs
that nothing references and that are older than the grace period. Why no interleaving loses a
committed blob:

* Every publish (upload, staged transfer, metadata sidecar) puts freshly written bytes onto
  the key atomically with a fresh mtime (``BlobStore.put_file``/``put_bytes``), and commits
  the row (or stage) that references them within ``publish_deadline(grace)`` of *starting*
  the publish: the grace period less ``CLOCK_MARGIN``, never less than ``PUBLISH_DEADLINE``.
  The clock starts before the publish because on AWS a multipart object's LastModified is
  the time its upload was initiated, not completed: a slow transfer publishes an old blob.
  The margin covers the commit after the check and clock skew between the servers, the
  bucket and the collecting host. The servers read the grace from the same setting as the
  collector (``WHEELYARD_BLOB_GRACE``): a collector may use a longer one, never a shorter one.
* The collector (one at a time, under the store's lock) claims a candidate — takes it out of
  service atomically (``Collectable.claim``; the local store renames it aside) — *then* reads
  the claimed copy's mtime, *then* looks for references in a new transaction; it deletes only
  an old, unreferenced claim, and otherwise restores it without ever overwriting a copy
  published meanwhile (the local store: a hard link, which fails rather than overwrite).
* A row committed before that look is seen by it. A row committed after it either comes from
  a publish after the claim (then the key holds new bytes and nothing was lost), or from a
  publish before the claim — then every file at the key since had an mtime at least that
  publish's, so the claim was young (its row commits within the deadline), or from a copy or
  a staged commit, which lock and keep their source row (or stage) alive until they commit,
  so the source was visible to the look.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import File, Stage
from wheelyard.digest import stream_sha256
from wheelyard.errors import StorageError
from wheelyard.storage import BlobStore, Claim, YardStore

log = logging.getLogger("wheelyard.integrity")

# The shortest publish deadline (at the shortest grace).
PUBLISH_DEADLINE = 120.0  # seconds from publishing a blob to committing its row
MIN_GRACE = 300.0  # a grace period shorter than this could collect in-flight uploads
# Between the publish deadline and the grace period: for the commit after the deadline's
# check and for clock skew. MIN_GRACE - PUBLISH_DEADLINE, so the shortest grace keeps the
# two-minute deadline the yard always had.
CLOCK_MARGIN = MIN_GRACE - PUBLISH_DEADLINE


@dataclass(frozen=True)
class Problem:
    kind: str  # "missing" | "size" | "hash" | "orphan"
    key: str
    detail: str


@dataclass(frozen=True)
class Collected:
    deleted: list[str]
    kept: int


def effective_grace(grace: float) -> float:
    return max(grace, MIN_GRACE)


def publish_deadline(grace: float) -> float:
    """Seconds an upload may take from starting to publish its bytes to committing its row,
    when blobs are collected after ``grace``: ``CLOCK_MARGIN`` inside the grace period, and
    never less than ``PUBLISH_DEADLINE`` (3420 s at the default hour, 120 s at 300 s)."""
    return max(PUBLISH_DEADLINE, effective_grace(grace) - CLOCK_MARGIN)


def _digest(store: BlobStore, key: str) -> str:
    with store.open(key) as fh:
        return stream_sha256(fh)


def _referenced_keys(session: Session) -> set[str]:
    keys: set[str] = set()
    for key, meta_sha in session.execute(select(File.blob_key, File.metadata_sha256)):
        keys.add(key)
        if meta_sha:
            keys.add(key + ".metadata")
    keys.update(k for k in session.scalars(select(Stage.blob_key)) if k)
    return keys


def _fresh(session: Session) -> Session:
    """A new session on the same database: it sees everything committed up to now, and
    leaves the caller's unit of work alone."""
    return Session(session.get_bind())


def is_referenced(session: Session, key: str) -> bool:
    """Whether a committed file row or upload stage uses ``key`` (read in a new transaction)."""
    base = key.removesuffix(".metadata")
    with _fresh(session) as now:
        if now.scalar(select(File.id).where(File.blob_key == base).limit(1)) is not None:
            return True
        stage = now.scalar(select(Stage.id).where(Stage.blob_key == key).limit(1))
        return stage is not None


def _young(store: YardStore, key: str, grace: float) -> bool:
    mtime = store.mtime(key)
    return mtime is None or time.time() - mtime <= grace


def check(
    session: Session, store: YardStore, verify_hashes: bool = True, grace: float = 3600.0
) -> Iterator[Problem]:
    """Yield every mismatch: rows without blobs, wrong sizes or digests, blobs without rows.

    Blobs of live upload stages are not orphans, nor are unreferenced blobs younger than
    ``grace`` (an upload between publishing its bytes and committing its row).
    """
    grace = effective_grace(grace)
    rows = session.execute(
        select(File.blob_key, File.filename, File.size, File.sha256, File.metadata_sha256)
    ).all()
    referenced = _referenced_keys(session)
    for key, filename, size, sha256, meta_sha in rows:
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
        if key in referenced or _young(store, key, grace):
            continue
        if not is_referenced(session, key):  # not made referenced since the scan started
            yield Problem("orphan", key, "blob has no database row")


@contextlib.contextmanager
def collection_paused(store: YardStore) -> Iterator[None]:
    """Hold the collector's lock, so no garbage collection runs, around work that publishes
    blobs long before the rows naming them commit (a restore: every blob first, the rows in
    one commit at the end, which may be more than a grace period later). A store that cannot
    be collected at all (a bucket without versioning) has nothing to pause."""
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(store.collecting())
        except StorageError as exc:
            log.warning("garbage collection not paused: %s", exc.message)
        yield


def collect_garbage(session: Session, store: YardStore, grace: float) -> Collected:
    """Delete blobs no row or stage references and older than ``grace`` seconds."""
    grace = effective_grace(grace)
    deleted: list[str] = []
    kept = 0

    def settle(claim: Claim) -> None:
        nonlocal kept
        # Order matters: the claim's age is read after the rename, references after that.
        if time.time() - claim.mtime <= grace or is_referenced(session, claim.key):
            store.restore(claim)
            kept += 1
        else:
            store.forget(claim)
            deleted.append(claim.key)

    with store.collecting():
        for claim in list(store.pending_claims()):  # a collector that stopped half-way
            settle(claim)
        with _fresh(session) as now:
            referenced = _referenced_keys(now)
        for key in list(store.iter_keys()):
            if key in referenced or _young(store, key, grace) or is_referenced(session, key):
                continue
            claimed = store.claim(key)
            if claimed is not None:
                settle(claimed)
    return Collected(deleted, kept)
