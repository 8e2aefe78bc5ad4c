"""Removing files, releases and packages: never past a locked label, rows only.

Blobs are shared by content, so a removal never deletes one: ``wheelyard check --repair``
collects blobs nothing references after the grace period (see ``yard.integrity``). The file
rows are locked before anything is decided, so uploads and copies of the same files serialise
with the removal instead of losing the labels they add.

A single-file delete through the Anaconda API waits first: see ``yard.pending``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import File, FileLabel, Label, Owner, Package, Release
from wheelyard.errors import Locked
from wheelyard.storage import BlobStore
from wheelyard.yard import browse
from wheelyard.yard.events import record
from wheelyard.yard.labels import bump, lock_files


def labels_of_files(session: Session, file_ids: list[int]) -> list[Label]:
    return list(
        session.scalars(
            select(Label)
            .join(FileLabel, FileLabel.label_id == Label.id)
            .where(FileLabel.file_id.in_(file_ids))
            .distinct()
            .order_by(Label.name)
        )
    )


def refuse_locked(labels: list[Label], owner: Owner) -> None:
    locked = [lb.name for lb in labels if lb.locked]
    if locked:
        raise Locked(
            f"label(s) {', '.join(sorted(locked))} of {owner.name!r} are locked; "
            "unlock them before removing files"
        )


def remove_files(
    session: Session,
    store: BlobStore,
    owner: Owner,
    files: list[File],
    actor: str,
) -> int:
    """Delete ``files`` from every label, now."""
    if not files:
        return 0
    files = lock_files(session, [f.id for f in files])  # current rows; gone ones left out
    if not files:
        return 0
    ids = [f.id for f in files]
    labels = labels_of_files(session, ids)
    refuse_locked(labels, owner)
    for f in files:
        record(session, owner, actor, "file-remove", f"{f.filename} sha256={f.sha256}")
        session.delete(f)
    bump(session, *[lb.id for lb in labels])
    _drop_empty(session, files)
    return len(files)


def remove_release(
    session: Session,
    store: BlobStore,
    owner: Owner,
    package: Package,
    version: str | None,
    actor: str,
) -> int:
    """Remove a release (or, with no version, the whole package): every file, then the
    rows left empty, the release or package itself too if it held no files."""
    row: Package | Release = browse.get_release(session, package, version) if version else package
    files = [v.file for v in browse.files_of(session, package, version)]
    removed = remove_files(session, store, owner, files, actor)
    stale = session.get(type(row), row.id)  # still there if it held no files
    if stale is not None:
        session.delete(stale)
        session.flush()
    return removed


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
