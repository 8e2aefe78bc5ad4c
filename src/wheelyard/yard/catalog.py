"""Read-side queries for the index: projects and files visible under one label, or under
any of several (an owner's view across the labels a reader may read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, join, select
from sqlalchemy.orm import Session

from wheelyard.db.models import File, FileLabel, Label, Owner, Package, Release
from wheelyard.errors import NotFound


@dataclass(frozen=True)
class IndexFile:
    filename: str
    sha256: str
    size: int
    requires_python: str | None
    metadata_sha256: str | None
    upload_time: datetime
    version: str
    yanked: bool
    yanked_reason: str | None


# The index's hot queries are built once with bind parameters: building SQLAlchemy
# expressions per request costs more than running them.
_RESOLVE = (
    select(Owner, Label)
    .outerjoin(Label, (Label.owner_id == Owner.id) & (Label.name == bindparam("label")))
    .where(Owner.name == bindparam("owner"))
)
# A download's whole look-up in one round trip: owner, label, and the file under the label
# with its package's privacy (None where there is no such label or file).
_LABELLED = join(
    FileLabel,
    File,
    (File.id == FileLabel.file_id)
    & (File.sha256 == bindparam("sha256"))
    & (File.filename == bindparam("filename")),
)
_RESOLVE_FILE = (
    select(Owner, Label, File, Package.private)
    .outerjoin(Label, (Label.owner_id == Owner.id) & (Label.name == bindparam("label")))
    .outerjoin(_LABELLED, FileLabel.label_id == Label.id)
    .outerjoin(Release, Release.id == File.release_id)
    .outerjoin(Package, Package.id == Release.package_id)
    .where(Owner.name == bindparam("owner"))
)
_PACKAGE = select(Package.id, Package.display_name, Package.private).where(
    Package.owner_id == bindparam("owner_id"), Package.name == bindparam("project")
)
# Probe the label per file (primary key) instead of joining on it: a join lets SQLite's
# planner start from every file of the label, which is slow for big labels.
_ON_LABEL = (FileLabel.file_id == File.id) & (FileLabel.label_id == bindparam("label_id"))
_YANKED = select(FileLabel.yanked).where(_ON_LABEL).scalar_subquery()
# IndexFile's fields, in order, up to the yank columns each query adds.
_FILE_COLUMNS = (
    File.filename,
    File.sha256,
    File.size,
    File.requires_python,
    File.metadata_sha256,
    File.upload_time,
    Release.version,
)
_FILES = (
    select(
        *_FILE_COLUMNS,
        _YANKED,
        select(FileLabel.yanked_reason).where(_ON_LABEL).scalar_subquery(),
    )
    .join(Release, Release.id == File.release_id)
    .where(Release.package_id == bindparam("package_id"), _YANKED.is_not(None))
    .order_by(File.filename)
)


def resolve(session: Session, owner_name: str, label_name: str) -> tuple[Owner, Label | None]:
    """The owner (NotFound if unknown) and its label (None if the label does not exist)."""
    row = session.execute(_RESOLVE, {"owner": owner_name.lower(), "label": label_name}).first()
    if row is None:
        raise NotFound(f"no owner named {owner_name!r}")
    return row[0], row[1]


def resolve_file(
    session: Session, owner_name: str, label_name: str, sha256: str, filename: str
) -> tuple[Owner, Label | None, tuple[File, bool] | None]:
    """``resolve`` and ``file_in_labels`` for that one label in one query: the owner
    (NotFound if unknown), its label (None if it does not exist), and the file under it with
    whether its package is private (None if the label holds no such file)."""
    args = {"owner": owner_name.lower(), "label": label_name, "sha256": sha256}
    row = session.execute(_RESOLVE_FILE, {**args, "filename": filename}).first()
    if row is None:
        raise NotFound(f"no owner named {owner_name!r}")
    owner, label, file, package_private = row
    return owner, label, None if file is None else (file, bool(package_private))


def project_names(session: Session, label_id: int, include_private: bool) -> list[tuple[str, str]]:
    """(normalised name, display name) of every project with a file under the label."""
    query = select(Package.name, Package.display_name)
    if not include_private:
        query = query.where(Package.private.is_(False))
    rows = session.execute(
        query.where(
            Package.id.in_(
                select(Release.package_id)
                .join(File, File.release_id == Release.id)
                .join(FileLabel, FileLabel.file_id == File.id)
                .where(FileLabel.label_id == label_id)
            )
        ).order_by(Package.name)
    )
    return [(n, d) for n, d in rows]


def project_files(
    session: Session, owner_id: int, label_id: int, project: str, include_private: bool
) -> tuple[str, list[IndexFile]] | None:
    """The display name and files of ``project`` under the label, or None if it has none."""
    package = session.execute(_PACKAGE, {"owner_id": owner_id, "project": project}).first()
    if package is None or (package.private and not include_private):
        return None
    rows = session.execute(_FILES, {"package_id": package.id, "label_id": label_id}).all()
    if not rows:
        return None
    return package.display_name, [IndexFile(*r) for r in rows]


def label_projects(
    session: Session, label_id: int, include_private: bool
) -> dict[str, tuple[str, list[IndexFile]]]:
    """Every project under the label at once (normalised name → display name and files, as
    ``project_files`` gives them): one query for a whole label, as an export needs."""
    query = (
        select(Package.name, Package.display_name, *_FILE_COLUMNS)
        .add_columns(FileLabel.yanked, FileLabel.yanked_reason)
        .join(Release, Release.id == File.release_id)
        .join(Package, Package.id == Release.package_id)
        .join(FileLabel, FileLabel.file_id == File.id)
        .where(FileLabel.label_id == label_id)
        .order_by(Package.name, File.filename)
    )
    if not include_private:
        query = query.where(Package.private.is_(False))
    projects: dict[str, tuple[str, list[IndexFile]]] = {}
    for name, display, *fields in session.execute(query):
        projects.setdefault(name, (display, []))[1].append(IndexFile(*fields))
    return projects


def owner_labels(session: Session, owner_id: int) -> list[Label]:
    return list(session.scalars(select(Label).where(Label.owner_id == owner_id)))


def project_files_any(
    session: Session, owner_id: int, label_ids: list[int], project: str, include_private: bool
) -> tuple[str, list[IndexFile]] | None:
    """The files of ``project`` under any of the labels; yanked only where every one of those
    labels yanked it."""
    package = session.execute(_PACKAGE, {"owner_id": owner_id, "project": project}).first()
    if package is None or (package.private and not include_private) or not label_ids:
        return None
    rows = session.execute(
        select(*_FILE_COLUMNS, FileLabel.yanked, FileLabel.yanked_reason)
        .join(Release, Release.id == File.release_id)
        .join(FileLabel, FileLabel.file_id == File.id)
        .where(Release.package_id == package.id, FileLabel.label_id.in_(label_ids))
        .order_by(File.filename)
    ).all()
    merged: dict[str, IndexFile] = {}
    for r in rows:
        seen = merged.get(r.filename)
        if seen is not None and (r.yanked or not seen.yanked):
            continue  # kept: an unyanked entry wins over a yanked one
        merged[r.filename] = IndexFile(
            r.filename,
            r.sha256,
            r.size,
            r.requires_python,
            r.metadata_sha256,
            r.upload_time,
            r.version,
            bool(r.yanked),
            r.yanked_reason if r.yanked else None,
        )
    return (package.display_name, list(merged.values())) if merged else None


def file_in_labels(
    session: Session, label_ids: list[int], sha256: str, filename: str
) -> tuple[File, bool] | None:
    """The file under any of the labels, and whether its package is private."""
    row = session.execute(
        select(File, Package.private)
        .join(FileLabel, FileLabel.file_id == File.id)
        .join(Release, Release.id == File.release_id)
        .join(Package, Package.id == Release.package_id)
        .where(FileLabel.label_id.in_(label_ids), File.sha256 == sha256, File.filename == filename)
    ).first()
    return None if row is None else (row[0], bool(row[1]))
