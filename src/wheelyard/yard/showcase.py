"""What the web UI's pages show of an owner, a package and a label, for one reader.

Every function takes the reader's ``access.View`` and leaves out what it does not show, with
the same rule as the simple index; something hidden answers like something missing. Each page
is a fixed, small number of queries, whatever the number of packages or versions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from packaging.version import InvalidVersion, Version
from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import File, FileLabel, Label, Membership, Owner, Package, Release
from wheelyard.errors import Forbidden, NotFound, Unauthenticated
from wheelyard.yard import browse, downloads
from wheelyard.yard.access import View, missing_label, require_write
from wheelyard.yard.labels import list_labels
from wheelyard.yard.scopes import WRITE
from wheelyard.yard.tokens import Principal


def version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def may_write(session: Session, principal: Principal | None, owner: Owner) -> bool:
    """Whether the principal may change the owner's labels (the rule of the label API)."""
    try:
        require_write(session, principal, owner, WRITE)
    except (Forbidden, Unauthenticated, NotFound):
        return False
    return True


@dataclass(frozen=True)
class LabelRow:
    label: Label
    files: int
    downloads: int


@dataclass(frozen=True)
class PackageRow:
    name: str
    display_name: str
    summary: str
    private: bool
    latest: dict[str, str]  # label name -> newest version under it


@dataclass(frozen=True)
class OwnerPage:
    owner: Owner
    labels: list[LabelRow]
    packages: list[PackageRow]
    members: list[str]


def owner_page(session: Session, view: View) -> OwnerPage:
    owner = view.owner
    counts = downloads.per_label(session, view.labels)
    labels = [
        LabelRow(view.labels[lid], 0, counts.get(lid, 0))
        for lid in sorted(view.labels, key=lambda i: view.labels[i].name)
    ]
    files = {s.name: s.files for s in list_labels(session, owner, not view.privileged)}
    labels = [LabelRow(r.label, files.get(r.label.name, 0), r.downloads) for r in labels]
    rows = session.execute(
        select(Release.package_id, Release.version, FileLabel.label_id)
        .select_from(File)
        .join(Release, Release.id == File.release_id)
        .join(Package, Package.id == Release.package_id)
        .outerjoin(FileLabel, FileLabel.file_id == File.id)
        .where(Package.owner_id == owner.id)
        .distinct()
    ).all()
    links: dict[int, list[int | None]] = defaultdict(list)
    latest: dict[int, dict[str, str]] = defaultdict(dict)
    for package_id, version, label_id in rows:
        links[package_id].append(label_id)
        if label_id in view.labels:
            name = view.labels[label_id].name
            have = latest[package_id].get(name)
            if have is None or version_key(version) > version_key(have):
                latest[package_id][name] = version
    packages = [
        PackageRow(p.name, p.display_name, p.summary or "", p.private, latest.get(p.id, {}))
        for p in session.scalars(
            select(Package).where(Package.owner_id == owner.id).order_by(Package.name)
        )
        if view.shows_package(p, links.get(p.id, ()))
    ]
    members: list[str] = []
    if owner.kind == "org":
        members = list(
            session.scalars(
                select(Owner.name)
                .join(Membership, Membership.user_id == Owner.id)
                .where(Membership.org_id == owner.id)
                .order_by(Owner.name)
            )
        )
    return OwnerPage(owner, labels, packages, members)


@dataclass(frozen=True)
class FileRow:
    file: File
    version: str
    labels: tuple[str, ...]
    yanked: dict[str, str]  # label name -> reason ("" when none was given), yanked labels only
    uploader: str | None
    downloads: int

    @property
    def tag(self) -> tuple[str, str, str]:
        """(python, abi, platform) of a wheel; ("source", "", "") for an sdist."""
        if self.file.kind != "wheel":
            return ("source", "", "")
        parts = self.file.filename[: -len(".whl")].split("-")
        return (parts[-3], parts[-2], parts[-1])


@dataclass
class VersionRow:
    version: str
    labels: set[str] = field(default_factory=set)
    files: list[FileRow] = field(default_factory=list)
    uploaded: datetime | None = None


def _yanks(session: Session, view: View, file_ids: list[int]) -> dict[int, dict[str, str]]:
    result: dict[int, dict[str, str]] = defaultdict(dict)
    if not file_ids:
        return result
    rows = session.execute(
        select(FileLabel.file_id, FileLabel.label_id, FileLabel.yanked_reason).where(
            FileLabel.file_id.in_(file_ids), FileLabel.yanked.is_(True)
        )
    )
    for file_id, label_id, reason in rows:
        if label_id in view.labels:
            result[file_id][view.labels[label_id].name] = reason or ""
    return result


def _rows(
    session: Session, view: View, found: list[tuple[File, str, tuple[str, ...]]]
) -> list[FileRow]:
    ids = [f.id for f, _v, _l in found]
    yanks = _yanks(session, view, ids)
    counts = downloads.per_file(session, ids)
    uploader_ids = {f.uploader_id for f, _v, _l in found if f.uploader_id is not None}
    names = dict(
        session.execute(select(Owner.id, Owner.name).where(Owner.id.in_(uploader_ids))).all()
    )
    return [
        FileRow(
            f,
            v,
            labels,
            yanks.get(f.id, {}),
            names.get(f.uploader_id) if f.uploader_id is not None else None,
            counts.get(f.id, 0),
        )
        for f, v, labels in found
    ]


@dataclass(frozen=True)
class PackagePage:
    owner: Owner
    package: Package
    versions: list[VersionRow]  # newest first
    labels: list[str]  # the label names any visible file carries

    @property
    def newest_wheel(self) -> File | None:
        for row in self.versions:
            for f in row.files:
                if f.file.kind == "wheel" and f.file.metadata_sha256:
                    return f.file
        return None


def package_page(session: Session, view: View, name: str) -> PackagePage:
    package = browse.get_package(session, view.owner, name, view)
    seen = browse.files_of(session, package, view=view)
    rows = _rows(session, view, [(v.file, v.version, v.labels) for v in seen])
    versions: dict[str, VersionRow] = {}
    for row in rows:
        entry = versions.setdefault(row.version, VersionRow(row.version))
        entry.files.append(row)
        entry.labels.update(row.labels)
        if entry.uploaded is None or row.file.upload_time > entry.uploaded:
            entry.uploaded = row.file.upload_time
    ordered = sorted(versions.values(), key=lambda r: version_key(r.version), reverse=True)
    labels = sorted({name for r in ordered for name in r.labels})
    return PackagePage(view.owner, package, ordered, labels)


@dataclass(frozen=True)
class LabelPage:
    owner: Owner
    label: Label
    files: list[tuple[str, FileRow]]  # (package name, file)
    downloads: int


def label_page(session: Session, view: View, name: str) -> LabelPage:
    label = next((lb for lb in view.labels.values() if lb.name == name), None)
    if label is None:
        raise missing_label(view.owner, name)
    found = browse.files_in_label(session, label, view)
    rows = _rows(session, view, [(f, v, (label.name,)) for f, _p, v in found])
    total = downloads.per_label(session, [label.id]).get(label.id, 0)
    named = [(p, r) for (_f, p, _v), r in zip(found, rows, strict=True)]
    return LabelPage(view.owner, label, named, total)
