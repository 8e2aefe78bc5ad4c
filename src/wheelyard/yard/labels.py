"""Label operations: look-up, copy (metadata only), removal, lock, privacy and yanking."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from wheelyard.db.models import File, FileLabel, Label, Owner, Package, Release
from wheelyard.db.session import insert_or_find, lock_for_write
from wheelyard.errors import InvalidInput, Locked, NotFound
from wheelyard.storage import BlobStore
from wheelyard.yard.events import record
from wheelyard.yard.names import check_label_name

ADMIN = "admin"  # the actor of admin CLI commands, which act on the data directory


def find_label(session: Session, owner: Owner, name: str) -> Label | None:
    return session.scalar(select(Label).where(Label.owner_id == owner.id, Label.name == name))


def get_label(session: Session, owner: Owner, name: str, create: bool = False) -> Label:
    label = find_label(session, owner, name)
    if label is None:
        if not create:
            raise NotFound(f"owner {owner.name!r} has no label {name!r}")
        # Two first uploads to a new label race to create it: the loser takes the winner's.
        row = Label(owner_id=owner.id, name=check_label_name(name), serial=0)
        made, _created = insert_or_find(session, row, lambda: find_label(session, owner, row.name))
        return made
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


def list_labels(
    session: Session, owner: Owner, public_packages_only: bool = False
) -> list[LabelSummary]:
    """Every label of the owner with its file count (only files of public packages, for a
    reader who may not see private ones)."""
    labels = session.scalars(
        select(Label).where(Label.owner_id == owner.id).order_by(Label.name)
    ).all()
    ids = [lb.id for lb in labels]
    counts = dict(
        session.execute(
            select(FileLabel.label_id, func.count())
            .where(FileLabel.label_id.in_(ids))
            .group_by(FileLabel.label_id)
        ).all()
    )
    if public_packages_only and ids:
        # All links minus those of private packages: an index-only count plus a join over the
        # (few) private packages' files, instead of joining every file to its package.
        hidden = session.execute(
            select(FileLabel.label_id, func.count())
            .join(File, File.id == FileLabel.file_id)
            .join(Release, Release.id == File.release_id)
            .join(Package, Package.id == Release.package_id)
            .where(Package.owner_id == owner.id, Package.private.is_(True))
            .group_by(FileLabel.label_id)
        )
        for label_id, n in hidden:
            counts[label_id] = counts.get(label_id, 0) - n
    rows = [(lb, counts.get(lb.id, 0)) for lb in labels]
    return [LabelSummary(lb.name, n, lb.private, lb.locked) for lb, n in rows]


def lock_files(session: Session, file_ids: list[int]) -> list[File]:
    """The current rows of ``file_ids`` (vanished ones left out), locked until commit.

    Every path that adds or drops labels of existing files, or drops files, locks them first
    (SQLite: the write lock; PostgreSQL: the rows, in id order so lockers never deadlock).
    """
    lock_for_write(session)
    if not file_ids:
        return []
    return list(
        session.scalars(
            select(File)
            .where(File.id.in_(file_ids))
            .order_by(File.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _lock_label(session: Session, label: Label) -> None:
    """Keep files from being added to ``label`` until commit (PostgreSQL; SQLite: write lock)."""
    lock_for_write(session)
    session.execute(select(Label.id).where(Label.id == label.id).with_for_update())


def copy_label(session: Session, owner: Owner, source: str, target: str, actor: str = ADMIN) -> int:
    """Give every file of ``source`` the label ``target`` too; returns how many were added."""
    lock_for_write(session)
    src = get_label(session, owner, source)
    dst = get_label(session, owner, target, create=True)
    require_unlocked(dst, owner)
    # Lock the source's files so a concurrent removal cannot delete one under the new link.
    lock_files(
        session,
        list(session.scalars(select(FileLabel.file_id).where(FileLabel.label_id == src.id))),
    )
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
    record(session, owner, actor, "label-copy", f"{source} -> {target}: {len(todo)} file(s)")
    return len(todo)


def drop_unlabelled(session: Session, file_ids: list[int]) -> int:
    """Delete file rows no label holds any more (their blobs are garbage-collected later)."""
    # Locked first, so a label an upload attaches meanwhile is either seen here or waits.
    locked = [f.id for f in lock_files(session, file_ids)]
    if not locked:
        return 0
    held = select(FileLabel.file_id).where(FileLabel.file_id.in_(locked))
    orphans = session.scalars(select(File).where(File.id.in_(locked), File.id.not_in(held))).all()
    for f in orphans:
        session.delete(f)
    return len(orphans)


def remove_label(
    session: Session, store: BlobStore, owner: Owner, name: str, actor: str = ADMIN
) -> int:
    """Remove a label; files no other label holds are deleted. Returns files unlabelled."""
    lock_for_write(session)
    label = get_label(session, owner, name)
    require_unlocked(label, owner)
    _lock_label(session, label)
    file_ids = list(
        session.scalars(select(FileLabel.file_id).where(FileLabel.label_id == label.id))
    )
    session.execute(delete(FileLabel).where(FileLabel.label_id == label.id))
    session.delete(label)
    drop_unlabelled(session, file_ids)
    record(session, owner, actor, "label-remove", f"{name}: {len(file_ids)} file(s)")
    return len(file_ids)


def set_locked(session: Session, owner: Owner, name: str, locked: bool, actor: str = ADMIN) -> None:
    get_label(session, owner, name, create=True).locked = locked
    record(session, owner, actor, "label-lock" if locked else "label-unlock", name)


def set_private(
    session: Session, owner: Owner, name: str, private: bool, actor: str = ADMIN
) -> None:
    label = get_label(session, owner, name, create=True)
    label.private = private
    bump(session, label.id)
    record(session, owner, actor, "label-private" if private else "label-public", name)


def set_owner_private(session: Session, owner: Owner, private: bool, actor: str = ADMIN) -> None:
    """Every label's pages are renewed: the rule that decides who sees them changed."""
    owner.private = private
    session.execute(update(Label).where(Label.owner_id == owner.id).values(serial=Label.serial + 1))
    record(session, owner, actor, "owner-private" if private else "owner-public", owner.name)


def yank(
    session: Session,
    owner: Owner,
    label_name: str,
    project: str,
    version: str,
    filename: str | None = None,
    reason: str | None = None,
    undo: bool = False,
    actor: str = ADMIN,
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
    what = filename or f"{project} {version}"
    record(session, owner, actor, "unyank" if undo else "yank", f"{label_name}: {what}")
    return len(links)


def untag(
    session: Session,
    store: BlobStore,
    owner: Owner,
    name: str,
    files: list[File],
    actor: str = ADMIN,
) -> int:
    """Take the label off some files; files left without any label are deleted."""
    lock_for_write(session)
    label = get_label(session, owner, name)
    require_unlocked(label, owner)
    ids = [f.id for f in lock_files(session, [f.id for f in files])]
    session.execute(
        delete(FileLabel).where(FileLabel.label_id == label.id, FileLabel.file_id.in_(ids))
    )
    bump(session, label.id)
    drop_unlabelled(session, ids)
    names = ", ".join(f.filename for f in files if f.id in ids)
    record(session, owner, actor, "label-untag", f"{name}: {names}")
    return len(ids)
