"""Read-side look-ups by owner/package/version/file, for the Anaconda-compatible API."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import File, FileLabel, Label, Owner, Package, Release
from wheelyard.yard.errors import NotFound


@dataclass(frozen=True)
class FileView:
    file: File
    version: str
    labels: tuple[str, ...]


def get_package(session: Session, owner: Owner, name: str) -> Package:
    package = session.scalar(
        select(Package).where(Package.owner_id == owner.id, Package.name == canonicalize_name(name))
    )
    if package is None:
        raise NotFound(f"package {owner.name}/{name} does not exist")
    return package


def normal_version(version: str) -> str:
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
    session: Session, package: Package, version: str | None = None, basename: str | None = None
) -> list[FileView]:
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
    labels = labels_of(session, [f.id for f, _v in rows])
    return [FileView(f, v, labels.get(f.id, ())) for f, v in rows]


def releases_of(session: Session, package: Package) -> list[Release]:
    rows = session.scalars(select(Release).where(Release.package_id == package.id)).all()
    return sorted(rows, key=lambda r: _sort_key(r.version))


def _sort_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def packages_of(session: Session, owner: Owner) -> list[Package]:
    return list(
        session.scalars(select(Package).where(Package.owner_id == owner.id).order_by(Package.name))
    )


def files_in_label(session: Session, label: Label) -> list[tuple[File, str, str]]:
    """(file, package name, version) of every file under the label."""
    rows = session.execute(
        select(File, Package.name, Release.version)
        .join(FileLabel, FileLabel.file_id == File.id)
        .join(Release, Release.id == File.release_id)
        .join(Package, Package.id == Release.package_id)
        .where(FileLabel.label_id == label.id)
        .order_by(Package.name, File.filename)
    ).all()
    return [(f, p, v) for f, p, v in rows]
