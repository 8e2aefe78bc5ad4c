"""Copying files to another label or owner: new metadata rows over the same stored bytes."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from wheelyard.db.models import File, FileLabel, Owner, Package, Release
from wheelyard.db.session import lock_for_write
from wheelyard.errors import Conflict, NotFound
from wheelyard.storage import BlobStore
from wheelyard.yard import browse
from wheelyard.yard.access import owner_view, require_write, visible_owner
from wheelyard.yard.events import record
from wheelyard.yard.labels import bump, get_label, require_unlocked
from wheelyard.yard.packages import ensure_package, find_package, set_package_private
from wheelyard.yard.removal import remove_files
from wheelyard.yard.scopes import WRITE
from wheelyard.yard.tokens import Principal
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
    lock_for_write(session)
    label = get_label(session, target, label_name, create=True)
    require_unlocked(label, target)
    # All rows at once, in id order, so two copies in opposite directions cannot deadlock.
    session.execute(
        select(File.id)
        .where(
            or_(
                File.id.in_([f.id for f in files]),
                and_(File.owner_id == target.id, File.filename.in_([f.filename for f in files])),
            )
        )
        .order_by(File.id)
        .with_for_update()
    ).all()
    results: list[File] = []
    for src in files:
        dest = _lock_pair(session, src, target)
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
    session.flush()
    return results


def _lock_pair(session: Session, src: File, target: Owner) -> File | None:
    """Lock the source row (a removal must not drop it, and with it the last reference to
    the shared blob, before the copy commits) and the target's row of that name, in id
    order; returns the target's row. A source removed meanwhile is not copied."""
    lock_for_write(session)
    rows = session.scalars(
        select(File)
        .where(
            or_(
                File.id == src.id,
                and_(File.owner_id == target.id, File.filename == src.filename),
            )
        )
        .order_by(File.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    if all(row.id != src.id for row in rows):
        raise NotFound(f"{src.filename} was removed meanwhile")
    return next((row for row in rows if row.owner_id == target.id), None)


# A copy is the same file (same stored bytes) under another owner and release.
_SAME_FILE = "filename kind sha256 size blob_key metadata_sha256 requires_python uploader_id"
_SAME_FILE += " platform_policy grafted_libs"


def _clone(session: Session, src: File, target: Owner) -> File:
    release = session.get(Release, src.release_id)
    assert release is not None
    package = session.get(Package, release.package_id)
    assert package is not None
    dest_rel = ensure_release(
        session, target.id, package.name, package.display_name, package.summary, release.version
    )
    same = {column: getattr(src, column) for column in _SAME_FILE.split()}
    dest = File(owner_id=target.id, release_id=dest_rel.id, **same)
    session.add(dest)
    session.flush()
    return dest


def copy_release(
    session: Session,
    store: BlobStore,
    principal: Principal,
    source_name: str,
    package_name: str,
    version: str,
    basename: str | None,
    from_label: str,
    target_name: str | None,
    to_label: str,
    replace: bool,
) -> tuple[Owner, Package, list[tuple[File, str]]]:
    """Copy the files of one release (or one file) under ``from_label`` of the source owner to
    ``to_label`` of the target owner, as the principal sees them.

    The source is read through the principal's view (a private package, or a private label, of
    someone else answers as missing), the target needs write rights. Privacy travels with the
    files: a private package is created private in the target, and is never poured into a
    public package there. Returns the target owner, its package and (file, version) pairs.
    """
    view = owner_view(session, principal, source_name)
    source = view.owner
    target = visible_owner(session, principal, target_name) if target_name else source
    require_write(session, principal, target, WRITE)
    label = next((lb for lb in view.labels.values() if lb.name == from_label), None)
    if label is None:
        raise NotFound(f"owner {source.name!r} has no label {from_label!r}")
    package = browse.get_package(session, source, package_name, view)
    views = [
        v
        for v in browse.files_of(session, package, version, basename or None, view)
        if label.name in v.labels
    ]
    if not views:
        raise NotFound(f"no files of {package.name} {version} under {label.name!r}")
    if package.private and target.id != source.id:
        dest_pkg = find_package(session, target, package.name)
        if dest_pkg is not None and not dest_pkg.private:
            raise Conflict(
                f"{source.name}/{package.name} is private and {target.name}/{package.name} is "
                f"public; make it private first (a copy never publishes private files)"
            )
        if dest_pkg is None:
            dest_pkg = ensure_package(
                session, target, package.display_name, None, package.summary, principal.user_name
            )
            set_package_private(session, target, dest_pkg, True, principal.user_name)
    copied = copy_files(
        session, store, [v.file for v in views], target, to_label, replace, principal.user_name
    )
    names = ", ".join(f.filename for f in copied)
    detail = f"{source.name}/{package.name}/{version} {label.name} -> {to_label}: {names}"
    record(session, target, principal.user_name, "copy", detail)
    dest = browse.get_package(session, target, package.name)
    return target, dest, [(f, v.version) for f, v in zip(copied, views, strict=True)]
