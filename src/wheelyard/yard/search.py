"""Search across every package a reader may see, by name and summary: the exact name first,
then names that start with the query, names that contain it, and summaries that do.

The database ranks and orders the candidates; which of them the reader sees is decided per
owner by ``access.View`` (the rule the simple index uses), fed the file links of a batch of
candidates at a time, so a query that matches everything costs a few batches, not a look-up
per package.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.utils import canonicalize_name
from sqlalchemy import case, func, literal, or_, select
from sqlalchemy.orm import Session

from wheelyard.db.models import Owner, Package
from wheelyard.yard.access import View, knows_owner, view_of
from wheelyard.yard.browse import file_label_ids
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


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(
    session: Session, principal: Principal | None, query: str, limit: int = LIMIT
) -> list[Hit]:
    """The packages matching ``query`` that ``principal`` may see, best first."""
    text = " ".join(query.split())[:MAX_QUERY].lower()
    if not text:
        return []
    wanted = canonicalize_name(text)
    inside = f"%{_escape(wanted)}%"
    rank = case(
        (Package.name == wanted, literal(0)),
        (Package.name.like(f"{_escape(wanted)}%", escape="\\"), literal(1)),
        (Package.name.like(inside, escape="\\"), literal(2)),
        else_=literal(3),
    ).label("rank")
    ranked = (
        select(Package, Owner, rank)
        .join(Owner, Owner.id == Package.owner_id)
        .where(
            or_(
                Package.name.like(inside, escape="\\"),
                func.lower(Package.summary).like(f"%{_escape(text)}%", escape="\\"),
            )
        )
        .order_by(rank, Package.name, Owner.name)
    )
    views: dict[int, View | None] = {}
    hits: list[Hit] = []
    batch, offset = 2 * limit, 0
    while len(hits) < limit:
        rows = session.execute(ranked.limit(batch).offset(offset)).all()
        if not rows:
            break
        offset += batch
        for _package, owner, _rank in rows:
            if owner.id not in views:
                known = knows_owner(session, principal, owner)
                views[owner.id] = view_of(session, principal, owner) if known else None
        links = file_label_ids(session, [p.id for p, o, _r in rows if _needs_links(views[o.id])])
        for package, owner, position in rows:
            view = views[owner.id]
            if view is None or not view.shows_package(package, links.get(package.id, ())):
                continue
            summary = package.summary or ""
            hits.append(Hit(owner.name, package.name, package.display_name, summary, position))
    return hits[:limit]


def _needs_links(view: View | None) -> bool:
    return view is not None and not view.privileged
