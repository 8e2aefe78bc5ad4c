"""Removing files, releases and packages: never past a locked label, blobs deleted after commit.

A file that carries more than one label is not removed through a single-file delete: the
Anaconda client's ``upload --force`` deletes and re-uploads a file, which would silently drop
every label but the new ones. wheelyard refuses that with a message naming the labels.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import Event, File, FileLabel, Label, Owner, Package, Release
from wheelyard.storage import BlobStore
from wheelyard.yard.errors import Conflict, Locked
from wheelyard.yard.labels import bump, delete_blobs


def _labels(session: Session, file_ids: list[int]) -> list[Label]:
    return list(
        session.scalars(
            select(Label)
            .join(FileLabel, FileLabel.label_id == Label.id)
            .where(FileLabel.file_id.in_(file_ids))
            .distinct()
        )
    )


def remove_files(
    session: Session,
    store: BlobStore,
    owner: Owner,
    files: list[File],
    actor: str,
    single: bool = False,
) -> int:
    """Delete ``files`` (all labels); ``single`` applies the one-label rule above."""
    if not files:
        return 0
    ids = [f.id for f in files]
    labels = _labels(session, ids)
    locked = [lb.name for lb in labels if lb.locked]
    if locked:
        raise Locked(
            f"label(s) {', '.join(sorted(locked))} of {owner.name!r} are locked; "
            "unlock them before removing files"
        )
    if single and len(labels) > 1:
        names = ", ".join(sorted(lb.name for lb in labels))
        raise Conflict(
            f"{files[0].filename} carries labels {names}; wheelyard does not drop labels "
            "silently. Remove it from the other labels first, or publish a new version"
        )
    keys = [f.blob_key for f in files]
    for f in files:
        session.add(
            Event(
                owner_id=owner.id,
                actor=actor,
                action="file-remove",
                detail=f"{f.filename} sha256={f.sha256}",
            )
        )
        session.delete(f)
    bump(session, *[lb.id for lb in labels])
    _drop_empty(session, files)
    session.commit()
    delete_blobs(session, store, keys)
    return len(files)


def _drop_empty(session: Session, files: list[File]) -> None:
    """Remove releases and packages left without files."""
    session.flush()
    for release_id in {f.release_id for f in files}:
        release = session.get(Release, release_id)
        if release is None:
            continue
        if session.scalar(select(File.id).where(File.release_id == release_id).limit(1)) is None:
            package_id = release.package_id
            session.delete(release)
            session.flush()
            has_release = session.scalar(
                select(Release.id).where(Release.package_id == package_id).limit(1)
            )
            if has_release is None:
                package = session.get(Package, package_id)
                if package is not None:
                    session.delete(package)
