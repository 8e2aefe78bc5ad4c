"""Read-side look-ups by owner/package/version/file, for the Anaconda-compatible API.

Every look-up that a reader (not a writer) makes takes an ``access.View``: packages, releases,
files and label names it may not see are left out, and a hidden package answers like a
missing one. Writers pass ``None`` (they may change what they may see in full)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import File, FileLabel, Label, Owner, Package, Release
from wheelyard.errors import InvalidInput, NotFound
from wheelyard.yard.access import View, missing_package
from wheelyard.yard.names import MAX_VERSION


@dataclass(frozen=True)
class FileView:
    file: File
    version: str
    labels: tuple[str, ...]


def get_package(session: Session, owner: Owner, name: str, view: View | None = None) -> Package:
    """The package, if it exists and ``view`` (a reader's) shows it."""
    package = session.scalar(
        select(Package).where(Package.owner_id == owner.id, Package.name == canonicalize_name(name))
    )
    if package is None or (view is not None and not _shown(session, view, package)):
        raise missing_package(owner, name)
    return package


def _shown(session: Session, view: View, package: Package) -> bool:
    """Whether ``view`` shows the package: ``View.shows_package`` on its file labels."""
    if not view.sees_package(package):
        return False  # no query for what the reader may not see anyway
    if view.privileged:
        return True
    return view.shows_package(package, file_label_ids(session, [package.id])[package.id])


def file_label_ids(session: Session, package_ids: list[int]) -> dict[int, list[int | None]]:
    """Per package, the label of each (file, label) link of its files (None: no label)."""
    found: dict[int, list[int | None]] = {pid: [] for pid in package_ids}
    if not package_ids:
        return found
    rows = session.execute(
        select(Release.package_id, FileLabel.label_id)
        .join(File, File.release_id == Release.id)
        .outerjoin(FileLabel, FileLabel.file_id == File.id)
        .where(Release.package_id.in_(package_ids))
        .distinct()
    ).all()
    for pid, lid in rows:
        found[pid].append(lid)
    return found


def normal_version(version: str) -> str:
    if len(version) > MAX_VERSION:
        raise InvalidInput(f"version is longer than {MAX_VERSION} characters")
    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def get_release(session: Session, package: Package, version: str) -> Release:
    release = session.scalar(
        select(Release).where(
            Release.package_id == package.id, Release.version == normal_version(version)
        )
    )
    if release is None:
        raise NotFound(f"release {package.name} {version} does not exist")
    return release


def get_visible_release(
    session: Session, package: Package, version: str, view: View | None
) -> Release:
    """The release, if a reader's ``view`` shows at least one of its files (or it has none)."""
    release = get_release(session, package, version)
    if view is not None and not view.privileged:
        files = files_of(session, package, release.version, view=None)
        if files and not files_of(session, package, release.version, view=view):
            raise NotFound(f"release {package.name} {version} does not exist")
    return release


def label_ids_of(session: Session, file_ids: Iterable[int]) -> dict[int, list[int]]:
    result: dict[int, list[int]] = defaultdict(list)
    rows = session.execute(
        select(FileLabel.file_id, FileLabel.label_id).where(FileLabel.file_id.in_(list(file_ids)))
    )
    for file_id, label_id in rows:
        result[file_id].append(label_id)
    return result


def labels_of(session: Session, file_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    result: dict[int, list[str]] = defaultdict(list)
    rows = session.execute(
        select(FileLabel.file_id, Label.name)
        .join(Label, Label.id == FileLabel.label_id)
        .where(FileLabel.file_id.in_(list(file_ids)))
        .order_by(Label.name)
    )
    for file_id, name in rows:
        result[file_id].append(name)
    return {k: tuple(v) for k, v in result.items()}


def files_of(
    session: Session,
    package: Package,
    version: str | None = None,
    basename: str | None = None,
    view: View | None = None,
) -> list[FileView]:
    """The package's files (of one version, one name); a reader's ``view`` keeps only the files
    it may see, each with only the label names it may see."""
    query = (
        select(File, Release.version)
        .join(Release, Release.id == File.release_id)
        .where(Release.package_id == package.id)
        .order_by(File.filename)
    )
    if version is not None:
        query = query.where(Release.version == normal_version(version))
    if basename is not None:
        query = query.where(File.filename == basename)
    rows = session.execute(query).all()
    if view is None:
        labels = labels_of(session, [f.id for f, _v in rows])
        return [FileView(f, v, labels.get(f.id, ())) for f, v in rows]
    ids = label_ids_of(session, [f.id for f, _v in rows])
    return [
        FileView(f, v, view.label_names(ids.get(f.id, ())))
        for f, v in rows
        if view.sees_file(package, ids.get(f.id, ()))
    ]


def releases_of(session: Session, package: Package, view: View | None = None) -> list[Release]:
    rows = session.scalars(select(Release).where(Release.package_id == package.id)).all()
    if view is not None and not view.privileged:
        every = {v.version for v in files_of(session, package)}
        seen = {v.version for v in files_of(session, package, view=view)}
        rows = [r for r in rows if r.version in seen or r.version not in every]
    return sorted(rows, key=lambda r: _sort_key(r.version))


def _sort_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def packages_of(session: Session, owner: Owner, view: View | None = None) -> list[Package]:
    rows = session.scalars(
        select(Package).where(Package.owner_id == owner.id).order_by(Package.name)
    ).all()
    if view is None or view.privileged:
        return list(rows)
    seen = [p for p in rows if view.sees_package(p)]
    links = file_label_ids(session, [p.id for p in seen])  # one query, not one per package
    return [p for p in seen if view.shows_package(p, links[p.id])]


def files_in_label(
    session: Session, label: Label, view: View | None = None
) -> list[tuple[File, str, str]]:
    """(file, package name, version) of every file under the label that ``view`` shows."""
    query = (
        select(File, Package.name, Release.version)
        .join(FileLabel, FileLabel.file_id == File.id)
        .join(Release, Release.id == File.release_id)
        .join(Package, Package.id == Release.package_id)
        .where(FileLabel.label_id == label.id)
        .order_by(Package.name, File.filename)
    )
    if view is not None and not view.privileged:
        query = query.where(Package.private.is_(False))
    return [(f, p, v) for f, p, v in session.execute(query).all()]
