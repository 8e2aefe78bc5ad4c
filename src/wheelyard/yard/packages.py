"""Package rows outside an upload: creation through the API (with the names uploads accept)
and privacy, whose change renews every cached page of the owner's labels."""

from __future__ import annotations

from packaging.utils import canonicalize_name
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wheelyard.db.models import Label, Owner, Package, Release
from wheelyard.db.session import insert_or_find
from wheelyard.yard.events import record
from wheelyard.yard.names import check_project_name, check_version


def find_package(session: Session, owner: Owner, name: str) -> Package | None:
    return session.scalar(select(Package).where(Package.owner_id == owner.id, Package.name == name))


def package_row(session: Session, owner_id: int, name: str, display_name: str) -> Package:
    """The package row ``name`` (already normalised and checked), created if new."""
    return _package_row(session, owner_id, name, display_name)[0]


def _package_row(
    session: Session, owner_id: int, name: str, display_name: str
) -> tuple[Package, bool]:
    def find() -> Package | None:
        return session.scalar(
            select(Package).where(Package.owner_id == owner_id, Package.name == name)
        )

    package = find()
    if package is not None:
        return package, False
    # Two first uploads of a new project (say its cp311 and cp312 wheels) race to create it.
    return insert_or_find(
        session, Package(owner_id=owner_id, name=name, display_name=display_name), find
    )


def release_row(session: Session, package: Package, version: str) -> Release:
    """The release row ``version`` (already normalised and checked), created if new."""

    def find() -> Release | None:
        return session.scalar(
            select(Release).where(Release.package_id == package.id, Release.version == version)
        )

    release = find()
    if release is not None:
        return release
    made, _created = insert_or_find(session, Release(package_id=package.id, version=version), find)
    return made


def ensure_package(
    session: Session,
    owner: Owner,
    raw_name: str,
    display_name: str | None,
    summary: str | None,
    actor: str,
) -> Package:
    """The owner's package ``raw_name``, created if new (its name checked as uploads check it)."""
    name = check_project_name(raw_name)
    display = display_name or raw_name
    if display != raw_name and canonicalize_name(display) != name:
        display = raw_name  # a display name must spell the same project
    package, created = _package_row(session, owner.id, name, display)
    if created:  # only the request that made it records it, whoever wins a race
        record(session, owner, actor, "package-create", name)
    if summary:
        package.summary = summary[:2000]
    return package


def ensure_release_row(session: Session, package: Package, version: str) -> Release:
    return release_row(session, package, check_version(version))


def set_package_private(
    session: Session, owner: Owner, package: Package, private: bool, actor: str
) -> None:
    """Make a package private or public. Every label of the owner is marked changed: a page
    cached while the package was visible must not outlive the change."""
    if package.private == private:
        return
    package.private = private
    session.execute(update(Label).where(Label.owner_id == owner.id).values(serial=Label.serial + 1))
    record(session, owner, actor, "package-private" if private else "package-public", package.name)
