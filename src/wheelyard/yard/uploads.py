"""Storing an uploaded distribution: blob first (durable), then one DB transaction.

Readers see a file only once its row is committed, and a row is committed only after its blob
is durable, so a crash at any point leaves at worst an unreferenced blob (``wheelyard check``
reports those). Same name + same bytes is a no-op that adds the label; same name + other
bytes is a conflict.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wheelyard.db.models import File, FileLabel, Owner, Package, Release
from wheelyard.storage import BlobStore
from wheelyard.storage.staging import StagedFile
from wheelyard.yard.distfile import DistFile
from wheelyard.yard.errors import Conflict
from wheelyard.yard.labels import bump, delete_blobs, get_label, require_unlocked

Outcome = Literal["created", "existing"]


@dataclass(frozen=True)
class DurableBlob:
    """Bytes already committed to the store under their final key (staged transfers)."""

    sha256: str
    size: int
    committed: bool = True


Incoming = StagedFile | DurableBlob


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


def _existing(session: Session, owner: Owner, filename: str) -> File | None:
    return session.scalar(select(File).where(File.owner_id == owner.id, File.filename == filename))


def ensure_release(
    session: Session,
    owner_id: int,
    name: str,
    display_name: str,
    summary: str | None,
    version: str,
) -> Release:
    """The release row for (owner, project, version), creating project and release as needed."""
    package = session.scalar(
        select(Package).where(Package.owner_id == owner_id, Package.name == name)
    )
    if package is None:
        package = Package(owner_id=owner_id, name=name, display_name=display_name, summary=summary)
        session.add(package)
        session.flush()
    elif summary:
        package.summary = summary
    release = session.scalar(
        select(Release).where(Release.package_id == package.id, Release.version == version)
    )
    if release is None:
        release = Release(package_id=package.id, version=version)
        session.add(release)
        session.flush()
    return release


def store_upload(
    session: Session,
    store: BlobStore,
    owner: Owner,
    labels: list[str],
    staged: Incoming,
    dist: DistFile,
    uploader_id: int | None,
) -> Stored:
    """Store ``staged`` (already validated as ``dist``) for ``owner`` under ``labels``."""
    for attempt in (1, 2):
        try:
            return _store_once(session, store, owner, labels, staged, dist, uploader_id)
        except IntegrityError:
            # A concurrent upload won a unique constraint (label, file name, package or
            # release): start again and meet its committed state.
            session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _store_once(
    session: Session,
    store: BlobStore,
    owner: Owner,
    labels: list[str],
    staged: Incoming,
    dist: DistFile,
    uploader_id: int | None,
) -> Stored:
    label_rows = [get_label(session, owner, name, create=True) for name in labels]
    for label in label_rows:
        require_unlocked(label, owner)
    label_ids = [lb.id for lb in label_rows]
    found = _existing(session, owner, dist.filename)
    if found is not None:
        if found.sha256 != staged.sha256:
            if staged.committed:  # lost a race after publishing our blob: take it back
                delete_blobs(session, store, [blob_key(dist.name, staged.sha256)])
            raise Conflict(
                f"{dist.filename} already exists with different contents "
                f"(sha256 {found.sha256}); a file name can only be used once"
            )
        added = _attach(session, found, label_ids)
        session.commit()
        names = tuple(lb.name for lb in label_rows if lb.id in added)
        return Stored("existing", found.id, names)

    key = blob_key(dist.name, staged.sha256)
    if isinstance(staged, StagedFile) and not staged.committed:
        store.commit(staged, key)
    if dist.kind == "wheel":
        store.put_bytes(key + ".metadata", dist.metadata)
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
    )
    session.add(file)
    session.flush()
    _attach(session, file, label_ids)
    session.commit()
    return Stored("created", file.id, tuple(labels))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
