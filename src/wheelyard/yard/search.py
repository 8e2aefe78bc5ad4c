"""Search across every package a reader may see, by name and summary: the exact name first,
then names that start with the query, names that contain it, and summaries that do.

Candidates come from one query; which of them the reader sees is decided per owner by
``access.View`` (the rule the simple index uses), fed the file links of all candidates in one
more query, so the cost does not grow with a query per package.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from packaging.utils import canonicalize_name
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from wheelyard.db.models import File, FileLabel, Owner, Package, Release
from wheelyard.yard.access import View, knows_owner, view_of
from wheelyard.yard.tokens import Principal

MAX_QUERY = 200
LIMIT = 100


@dataclass(frozen=True)
class Hit:
    owner: str
    name: str
    display_name: str
    summary: str
    rank: int  # 0 exact name, 1 name prefix, 2 name contains, 3 summary only


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _rank(name: str, wanted: str) -> int:
    if name == wanted:
        return 0
    if name.startswith(wanted):
        return 1
    return 2 if wanted in name else 3


def search(
    session: Session, principal: Principal | None, query: str, limit: int = LIMIT
) -> list[Hit]:
    """The packages matching ``query`` that ``principal`` may see, best first."""
    text = " ".join(query.split())[:MAX_QUERY].lower()
    if not text:
        return []
    wanted = canonicalize_name(text)
    matching = or_(
        Package.name.like(_like(wanted), escape="\\"),
        func.lower(Package.summary).like(_like(text), escape="\\"),
    )
    candidates = session.execute(select(Package, Owner).join(Owner).where(matching)).all()
    views: dict[int, View | None] = {}
    for _package, owner in candidates:
        if owner.id not in views:
            known = knows_owner(session, principal, owner)
            views[owner.id] = view_of(session, principal, owner) if known else None
    links: dict[int, list[int | None]] = defaultdict(list)
    if any(v is not None and not v.privileged for v in views.values()):
        rows = session.execute(
            select(Release.package_id, FileLabel.label_id)
            .select_from(File)
            .join(Release, Release.id == File.release_id)
            .outerjoin(FileLabel, FileLabel.file_id == File.id)
            .where(Release.package_id.in_(select(Package.id).where(matching)))
            .distinct()
        )
        for package_id, label_id in rows:
            links[package_id].append(label_id)
    hits = []
    for package, owner in candidates:
        view = views[owner.id]
        if view is None or not view.shows_package(package, links.get(package.id, ())):
            continue
        rank = _rank(package.name, wanted)
        summary = package.summary or ""
        hits.append(Hit(owner.name, package.name, package.display_name, summary, rank))
    hits.sort(key=lambda h: (h.rank, h.name, h.owner))
    return hits[:limit]
