"""Copying files to another label or owner: new metadata rows over the same stored bytes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import File, FileLabel, Owner, Package, Release
from wheelyard.storage import BlobStore
from wheelyard.yard.errors import Conflict
from wheelyard.yard.labels import bump, get_label, require_unlocked
from wheelyard.yard.removal import remove_files
from wheelyard.yard.uploads import ensure_release


def copy_files(
    session: Session,
    store: BlobStore,
    files: list[File],
    target: Owner,
    label_name: str,
    replace: bool,
    actor: str,
) -> list[File]:
    """Give ``target`` each file under ``label_name``; returns the target's file rows."""
    label = get_label(session, target, label_name, create=True)
    require_unlocked(label, target)
    results: list[File] = []
    for src in files:
        dest = session.scalar(
            select(File).where(File.owner_id == target.id, File.filename == src.filename)
        )
        if dest is not None and dest.sha256 != src.sha256:
            if not replace:
                raise Conflict(f"{target.name} already has {src.filename} with different contents")
            remove_files(session, store, target, [dest], actor)
            dest = None
        if dest is None:
            dest = _clone(session, src, target)
        if session.get(FileLabel, (dest.id, label.id)) is None:
            session.add(FileLabel(file_id=dest.id, label_id=label.id))
        results.append(dest)
    bump(session, label.id)
    session.commit()
    return results


def _clone(session: Session, src: File, target: Owner) -> File:
    release = session.get(Release, src.release_id)
    assert release is not None
    package = session.get(Package, release.package_id)
    assert package is not None
    dest_rel = ensure_release(
        session, target.id, package.name, package.display_name, package.summary, release.version
    )
    dest = File(
        owner_id=target.id,
        release_id=dest_rel.id,
        filename=src.filename,
        kind=src.kind,
        sha256=src.sha256,
        size=src.size,
        blob_key=src.blob_key,
        metadata_sha256=src.metadata_sha256,
        requires_python=src.requires_python,
        uploader_id=src.uploader_id,
    )
    session.add(dest)
    session.flush()
    return dest
