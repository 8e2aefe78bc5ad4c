"""What the web UI's pages show of an owner, a package and a label, for one reader.

Every function takes the reader's ``access.View`` and leaves out what it does not show, with
the same rule as the simple index; something hidden answers like something missing. Each page
is a fixed, small number of queries, whatever the number of packages or versions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from packaging.version import InvalidVersion, Version
from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import File, FileLabel, Label, Membership, Owner, Package, Release
from wheelyard.errors import Forbidden, NotFound, Unauthenticated
from wheelyard.yard import browse, downloads
from wheelyard.yard.access import View, missing_label, missing_package, require_write
from wheelyard.yard.labels import list_labels
from wheelyard.yard.scopes import WRITE
from wheelyard.yard.tokens import Principal


@lru_cache(maxsize=65536)
def version_key(version: str) -> tuple[int, Version | str]:
    """Sort key of a version string (parsed once: pages sort thousands of them)."""
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
    packages: list[PackageRow]  # this page's
    members: list[str]
    total: int  # packages the reader sees, on every page


PACKAGES_PER_PAGE = 100


def owner_page(session: Session, view: View, number: int = 1) -> OwnerPage:
    """The owner's labels and members, and page ``number`` of the packages it shows."""
    owner = view.owner
    counts = downloads.per_label(session, view.labels)
    files = {s.name: s.files for s in list_labels(session, owner, not view.privileged)}
    labels = [
        LabelRow(label, files.get(label.name, 0), counts.get(label.id, 0))
        for label in sorted(view.labels.values(), key=lambda lb: lb.name)
    ]
    # Columns, not entities: an owner may hold thousands of packages, a page shows a hundred.
    packages = session.execute(
        select(Package.id, Package.name, Package.display_name, Package.summary, Package.private)
        .where(Package.owner_id == owner.id)
        .order_by(Package.name)
    ).all()
    if not view.privileged:
        links: dict[int, list[int | None]] = defaultdict(list)
        rows = session.execute(
            select(Release.package_id, FileLabel.label_id)
            .select_from(File)
            .join(Release, Release.id == File.release_id)
            .join(Package, Package.id == Release.package_id)
            .outerjoin(FileLabel, FileLabel.file_id == File.id)
            .where(Package.owner_id == owner.id)
            .distinct()
        )
        for package_id, label_id in rows:
            links[package_id].append(label_id)
        packages = [p for p in packages if view.shows_package(p, links.get(p.id, ()))]
    start = (max(1, number) - 1) * PACKAGES_PER_PAGE
    shown = packages[start : start + PACKAGES_PER_PAGE]
    latest: dict[int, dict[str, str]] = defaultdict(dict)
    if shown:
        versions = session.execute(
            select(Release.package_id, Release.version, FileLabel.label_id)
            .select_from(File)
            .join(Release, Release.id == File.release_id)
            .join(FileLabel, FileLabel.file_id == File.id)
            .where(Release.package_id.in_([p.id for p in shown]))
            .distinct()
        )
        for package_id, version, label_id in versions:
            if label_id in view.labels:
                name = view.labels[label_id].name
                have = latest[package_id].get(name)
                if have is None or version_key(version) > version_key(have):
                    latest[package_id][name] = version
    rows_shown = [
        PackageRow(p.name, p.display_name, p.summary or "", p.private, latest.get(p.id, {}))
        for p in shown
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
    return OwnerPage(owner, labels, rows_shown, members, len(packages))


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

    @property
    def policy(self) -> list[str] | None:
        """The wheel's manylinux/musllinux tags; None when not derived yet."""
        value = self.file.platform_policy
        return None if value is None else value.split()

    @property
    def grafted(self) -> list[str] | None:
        """Libraries auditwheel grafted into the wheel; None when not derived yet."""
        value = self.file.grafted_libs
        return None if value is None else value.splitlines()


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
    versions: list[VersionRow]  # every version the reader sees, newest first
    shown: list[VersionRow]  # this page's, with their files
    labels: list[str]  # the label names any visible file carries
    newest_wheel: File | None  # of the newest version: its metadata has the description


VERSIONS_PER_PAGE = 50


def package_page(session: Session, view: View, name: str, number: int = 1) -> PackagePage:
    """Every version the reader sees with its labels, and the files of page ``number``.

    Which files a reader sees is ``View.sees_file`` (as ``browse.files_of`` applies it); it
    is applied here to id rows, so only the shown versions' files are loaded in full.
    """
    package = browse.get_package(session, view.owner, name)
    rows = session.execute(
        select(File.id, Release.version, File.upload_time, File.kind, FileLabel.label_id)
        .join(Release, Release.id == File.release_id)
        .outerjoin(FileLabel, FileLabel.file_id == File.id)
        .where(Release.package_id == package.id)
    ).all()
    # The rule of browse.get_package, fed these rows rather than a second query over them.
    if not view.shows_package(package, [row.label_id for row in rows]):
        raise missing_package(view.owner, name)
    label_ids: dict[int, list[int]] = defaultdict(list)
    about: dict[int, tuple[str, datetime, str]] = {}
    names: dict[tuple[int, ...], tuple[str, ...]] = {}  # most files share a few label sets

    def names_of(file_id: int) -> tuple[str, ...]:
        key = tuple(label_ids.get(file_id, ()))
        if key not in names:
            names[key] = view.label_names(key)
        return names[key]

    for file_id, version, uploaded, kind, label_id in rows:
        about[file_id] = (version, uploaded, kind)
        if label_id is not None:
            label_ids[file_id].append(label_id)
    versions: dict[str, VersionRow] = {}
    visible: dict[str, list[int]] = defaultdict(list)
    for file_id, (version, uploaded, _kind) in about.items():
        if not view.sees_file(package, label_ids.get(file_id, ())):
            continue
        entry = versions.setdefault(version, VersionRow(version))
        entry.labels.update(names_of(file_id))
        if entry.uploaded is None or uploaded > entry.uploaded:
            entry.uploaded = uploaded
        visible[version].append(file_id)
    ordered = sorted(versions.values(), key=lambda r: version_key(r.version), reverse=True)
    start = (max(1, number) - 1) * VERSIONS_PER_PAGE
    shown = ordered[start : start + VERSIONS_PER_PAGE]
    wanted = [fid for row in shown for fid in visible[row.version]]
    newest = next(
        (fid for row in ordered for fid in visible[row.version] if about[fid][2] == "wheel"),
        None,
    )
    if newest is not None and newest not in wanted:
        wanted.append(newest)
    loaded = {
        f.id: f
        for f in session.scalars(select(File).where(File.id.in_(wanted)).order_by(File.filename))
    }
    on_page = {r.version for r in shown}
    found = [
        (f, about[f.id][0], names_of(f.id)) for f in loaded.values() if about[f.id][0] in on_page
    ]
    for row in _rows(session, view, found):
        versions[row.version].files.append(row)
    labels = sorted({name for r in ordered for name in r.labels})
    wheel = loaded.get(newest) if newest is not None else None
    return PackagePage(view.owner, package, ordered, shown, labels, wheel)


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
