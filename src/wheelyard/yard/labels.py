"""Label operations: look-up, copy (metadata only), removal, lock, privacy and yanking."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from wheelyard.db.models import Event, File, FileLabel, Label, Owner, Package, Release
from wheelyard.storage import BlobStore
from wheelyard.yard.errors import InvalidInput, Locked, NotFound
from wheelyard.yard.names import check_label_name


def find_label(session: Session, owner: Owner, name: str) -> Label | None:
    return session.scalar(select(Label).where(Label.owner_id == owner.id, Label.name == name))


def get_label(session: Session, owner: Owner, name: str, create: bool = False) -> Label:
    label = find_label(session, owner, name)
    if label is None:
        if not create:
            raise NotFound(f"owner {owner.name!r} has no label {name!r}")
        label = Label(owner_id=owner.id, name=check_label_name(name), serial=0)
        session.add(label)
        session.flush()
    return label


def require_unlocked(label: Label, owner: Owner) -> None:
    if label.locked:
        raise Locked(f"label {label.name!r} of {owner.name!r} is locked; unlock it first")


def bump(session: Session, *label_ids: int) -> None:
    """Mark labels changed, so cached pages and ETags for them are renewed."""
    if label_ids:
        session.execute(
            update(Label).where(Label.id.in_(label_ids)).values(serial=Label.serial + 1)
        )


@dataclass(frozen=True)
class LabelSummary:
    name: str
    files: int
    private: bool
    locked: bool


def list_labels(session: Session, owner: Owner) -> list[LabelSummary]:
    rows = session.execute(
        select(Label, func.count(FileLabel.file_id))
        .outerjoin(FileLabel, FileLabel.label_id == Label.id)
        .where(Label.owner_id == owner.id)
        .group_by(Label.id)
        .order_by(Label.name)
    )
    return [LabelSummary(lb.name, n, lb.private, lb.locked) for lb, n in rows]


def copy_label(session: Session, owner: Owner, source: str, target: str) -> int:
    """Give every file of ``source`` the label ``target`` too; returns how many were added."""
    src = get_label(session, owner, source)
    dst = get_label(session, owner, target, create=True)
    require_unlocked(dst, owner)
    have = select(FileLabel.file_id).where(FileLabel.label_id == dst.id)
    todo = session.execute(
        select(FileLabel.file_id, FileLabel.yanked, FileLabel.yanked_reason).where(
            FileLabel.label_id == src.id, FileLabel.file_id.not_in(have)
        )
    ).all()
    for file_id, yanked, reason in todo:
        session.add(
            FileLabel(file_id=file_id, label_id=dst.id, yanked=yanked, yanked_reason=reason)
        )
    bump(session, dst.id)
    return len(todo)


def drop_unlabelled(session: Session, file_ids: list[int]) -> list[str]:
    """Delete file rows no label holds any more; returns their blob keys to delete after commit."""
    if not file_ids:
        return []
    held = select(FileLabel.file_id).where(FileLabel.file_id.in_(file_ids))
    orphans = session.scalars(select(File).where(File.id.in_(file_ids), File.id.not_in(held))).all()
    keys: list[str] = []
    for f in orphans:
        keys += [f.blob_key, f.blob_key + ".metadata"]
        session.delete(f)
    return keys


def remove_label(session: Session, store: BlobStore, owner: Owner, name: str) -> int:
    """Remove a label; files no other label holds are deleted. Returns files unlabelled."""
    label = get_label(session, owner, name)
    require_unlocked(label, owner)
    file_ids = list(
        session.scalars(select(FileLabel.file_id).where(FileLabel.label_id == label.id))
    )
    session.execute(delete(FileLabel).where(FileLabel.label_id == label.id))
    session.delete(label)
    keys = drop_unlabelled(session, file_ids)
    session.add(Event(owner_id=owner.id, action="label-remove", detail=name))
    session.commit()
    delete_blobs(session, store, keys)
    return len(file_ids)


def delete_blobs(session: Session, store: BlobStore, keys: list[str]) -> None:
    """Delete blobs after the commit that dropped their rows, unless a row still uses them."""
    for key in keys:
        base = key.removesuffix(".metadata")
        if session.scalar(select(func.count()).where(File.blob_key == base)) == 0:
            store.delete(base)
            store.delete(base + ".metadata")


def set_locked(session: Session, owner: Owner, name: str, locked: bool) -> None:
    get_label(session, owner, name, create=True).locked = locked


def set_private(session: Session, owner: Owner, name: str, private: bool) -> None:
    label = get_label(session, owner, name, create=True)
    label.private = private
    bump(session, label.id)


def set_owner_private(session: Session, owner: Owner, private: bool) -> None:
    owner.private = private
    session.execute(update(Label).where(Label.owner_id == owner.id).values(serial=Label.serial + 1))


def yank(
    session: Session,
    owner: Owner,
    label_name: str,
    project: str,
    version: str,
    filename: str | None = None,
    reason: str | None = None,
    undo: bool = False,
) -> int:
    """Yank (or unyank) a release's files, or one file, within one label (PEP 592)."""
    label = get_label(session, owner, label_name)
    require_unlocked(label, owner)
    try:
        ver = str(Version(version))
    except InvalidVersion:
        raise InvalidInput(f"invalid version {version!r}") from None
    query = (
        select(FileLabel)
        .join(File, File.id == FileLabel.file_id)
        .join(Release, Release.id == File.release_id)
        .join(Package, Package.id == Release.package_id)
        .where(
            FileLabel.label_id == label.id,
            Package.owner_id == owner.id,
            Package.name == canonicalize_name(project),
            Release.version == ver,
        )
    )
    if filename:
        query = query.where(File.filename == filename)
    links = session.scalars(query).all()
    if not links:
        what = filename or f"{project} {version}"
        raise NotFound(f"no file {what} under label {label_name!r} of {owner.name!r}")
    for link in links:
        link.yanked = not undo
        link.yanked_reason = None if undo else reason
    bump(session, label.id)
    return len(links)


def untag(session: Session, store: BlobStore, owner: Owner, name: str, files: list[File]) -> int:
    """Take the label off some files; files left without any label are deleted."""
    label = get_label(session, owner, name)
    require_unlocked(label, owner)
    ids = [f.id for f in files]
    session.execute(
        delete(FileLabel).where(FileLabel.label_id == label.id, FileLabel.file_id.in_(ids))
    )
    bump(session, label.id)
    keys = drop_unlabelled(session, ids)
    session.commit()
    delete_blobs(session, store, keys)
    return len(ids)
