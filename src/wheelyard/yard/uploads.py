"""Storing an uploaded distribution: blob first (durable), then one DB transaction.

Readers see a file only once its row is committed, and a row is committed only after its blob
is durable, so a crash at any point leaves at worst an unreferenced blob (``wheelyard check
--repair`` collects those after the grace period). Same name + same bytes is a no-op that adds
the label; same name + other bytes is a conflict.

Blob keys are content-derived and shared, so an upload always publishes its own freshly
written bytes onto the key (a fresh mtime keeps the garbage collector away until the row is
committed, which must happen within ``integrity.publish_deadline`` of starting the publish:
the grace period less a margin), and decides create-or-attach only after locking the (owner,
file name) row, so a concurrent removal serialises with it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wheelyard.config import Settings
from wheelyard.db.models import File, FileLabel, Owner, Release
from wheelyard.db.session import lock_for_write, savepoint
from wheelyard.errors import Conflict, StorageError
from wheelyard.storage import BlobStore
from wheelyard.storage.faults import after_publish
from wheelyard.storage.staging import StagedFile
from wheelyard.yard.distfile import DistFile
from wheelyard.yard.events import record
from wheelyard.yard.integrity import publish_deadline
from wheelyard.yard.labels import bump, get_label, require_unlocked
from wheelyard.yard.packages import package_row, release_row

Outcome = Literal["created", "existing"]


@dataclass(frozen=True)
class DurableBlob:
    """Bytes already committed to the store under their final key (staged transfers)."""

    sha256: str
    size: int
    committed: bool = True


Incoming = StagedFile | DurableBlob


@dataclass(frozen=True)
class _Upload:
    """What one call of ``store_upload`` stores: whose, under which labels, which bytes."""

    owner: Owner
    labels: list[str]
    staged: Incoming
    dist: DistFile
    uploader_id: int | None
    started: float  # on ``clock``, before anything was published
    deadline: float  # seconds from ``started`` to the row, at most
    clock: Callable[[], float]


@dataclass(frozen=True)
class Stored:
    outcome: Outcome
    file_id: int
    labels_added: tuple[str, ...]


def blob_key(project: str, sha256: str) -> str:
    """Storage key from the parsed project name and the digest, never the client's file name."""
    return f"{project}/{sha256[:2]}/{sha256}"


def _attach(session: Session, file: File, label_ids: list[int]) -> list[int]:
    have = set(session.scalars(select(FileLabel.label_id).where(FileLabel.file_id == file.id)))
    added = [lid for lid in label_ids if lid not in have]
    for lid in added:
        session.add(FileLabel(file_id=file.id, label_id=lid))
    bump(session, *added)
    return added


def _existing(session: Session, owner: Owner, filename: str, lock: bool = False) -> File | None:
    query = select(File).where(File.owner_id == owner.id, File.filename == filename)
    if lock:  # PostgreSQL: removals and copies of this file wait for us, and we for them
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def lock_file(session: Session, owner_id: int, filename: str) -> File | None:
    """The current (owner, file name) row, locked until commit; None when there is none."""
    lock_for_write(session)
    return session.scalar(
        select(File)
        .where(File.owner_id == owner_id, File.filename == filename)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def ensure_release(
    session: Session,
    owner_id: int,
    name: str,
    display_name: str,
    summary: str | None,
    version: str,
) -> Release:
    """The release row for (owner, project, version), creating project and release as needed."""
    package = package_row(session, owner_id, name, display_name)
    if summary:
        package.summary = summary
    return release_row(session, package, version)


def store_upload(
    session: Session,
    store: BlobStore,
    owner: Owner,
    labels: list[str],
    staged: Incoming,
    dist: DistFile,
    uploader_id: int | None,
    *,
    grace: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Stored:
    """Store ``staged`` (already validated as ``dist``) for ``owner`` under ``labels``.

    The caller's unit must commit promptly: the row that references freshly published bytes
    commits within ``publish_deadline(grace)`` of starting the publish (see
    ``yard.integrity``); ``grace`` is the collector's, by default this process's
    ``WHEELYARD_BLOB_GRACE``. ``clock`` measures that time (tests move it).
    """
    deadline = publish_deadline(configured_grace() if grace is None else grace)
    upload = _Upload(owner, labels, staged, dist, uploader_id, clock(), deadline, clock)
    key: str | None = None
    if _existing(session, owner, dist.filename) is None:
        # Most likely a new file: publish before taking the write lock (fsync is slow).
        key = _publish(store, staged, dist)
    for attempt in (1, 2):
        try:
            with savepoint(session):  # takes the write lock (SQLite) first
                stored = _store_locked(session, store, upload, key)
                session.flush()  # a lost race shows here, inside the savepoint
            return stored
        except IntegrityError:
            # A concurrent upload of the same file name won its unique constraint (label,
            # package and release rows settle such races themselves: insert_or_find): start
            # again from the savepoint and meet its committed state (same bytes or a 409).
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def configured_grace() -> float:
    # The setting `wheelyard check --repair` collects by, read the same way: the servers'
    # deadline stays inside the collector's grace when both run with the same configuration.
    return Settings.from_env().blob_grace


def _publish(store: BlobStore, staged: Incoming, dist: DistFile) -> str:
    """Put our own bytes (and the wheel's metadata) under the content-derived key."""
    key = blob_key(dist.name, staged.sha256)
    if isinstance(staged, StagedFile):
        staged.publish(store, key)  # once: a retry after a lost race keeps the first publish
    if dist.kind == "wheel":
        store.put_bytes(key + ".metadata", dist.metadata)
    after_publish(key)  # a test hook (the crash tests); does nothing on a real yard
    return key


def _store_locked(session: Session, store: BlobStore, upload: _Upload, key: str | None) -> Stored:
    owner, labels, staged, dist = upload.owner, upload.labels, upload.staged, upload.dist
    uploader_id = upload.uploader_id
    label_rows = [get_label(session, owner, name, create=True) for name in labels]
    for label in label_rows:
        require_unlocked(label, owner)
    label_ids = [lb.id for lb in label_rows]
    found = _existing(session, owner, dist.filename, lock=True)
    if found is not None:
        if found.sha256 != staged.sha256:
            # Bytes we published stay unreferenced; the garbage collector takes them later.
            raise Conflict(
                f"{dist.filename} already exists with different contents "
                f"(sha256 {found.sha256}); a file name can only be used once"
            )
        added = _attach(session, found, label_ids)
        names = tuple(lb.name for lb in label_rows if lb.id in added)
        if names:
            detail = f"{dist.filename} (same bytes) -> {', '.join(names)}"
            record(session, owner, _actor(session, uploader_id), "upload-label", detail)
        return Stored("existing", found.id, names)

    if key is None:  # removed between our first look and the lock
        key = _publish(store, staged, dist)
    release = ensure_release(
        session, owner.id, dist.name, dist.display_name, dist.summary, str(dist.version)
    )
    file = File(
        owner_id=owner.id,
        release_id=release.id,
        filename=dist.filename,
        kind=dist.kind,
        sha256=staged.sha256,
        size=staged.size,
        blob_key=key,
        metadata_sha256=_sha256(dist.metadata) if dist.kind == "wheel" else None,
        requires_python=dist.requires_python,
        uploader_id=uploader_id,
        platform_policy=dist.facts.policy,
        grafted_libs=dist.facts.grafted,
    )
    session.add(file)
    session.flush()
    _attach(session, file, label_ids)
    if upload.clock() - upload.started > upload.deadline:
        # The collector only trusts a fresh mtime for this long; publish again from scratch.
        raise StorageError(
            f"storing {dist.filename} took longer than {upload.deadline:.0f}s; "
            "please upload it again"
        )
    detail = f"{dist.filename} sha256={staged.sha256} -> {', '.join(labels)}"
    record(session, owner, _actor(session, uploader_id), "upload", detail)
    return Stored("created", file.id, tuple(labels))


def _actor(session: Session, uploader_id: int | None) -> str | None:
    user = session.get(Owner, uploader_id) if uploader_id is not None else None
    return user.name if user is not None else None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
