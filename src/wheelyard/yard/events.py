"""The audit trail: every mutation of an owner's data, with actor, time and detail.

Services add an ``Event`` in the transaction that makes the change, so the trail and the
data never disagree; this module records and reads it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import Event, Owner, as_utc


def record(
    session: Session, owner: Owner | int, actor: str | None, action: str, detail: str
) -> None:
    owner_id = owner if isinstance(owner, int) else owner.id
    session.add(Event(owner_id=owner_id, actor=actor, action=action, detail=detail))


def events_of(
    session: Session, owner: Owner, since: datetime | None = None, limit: int = 1000
) -> list[Event]:
    """The owner's events, oldest first, from ``since`` on (at most ``limit``, the newest)."""
    query = select(Event).where(Event.owner_id == owner.id)
    if since is not None:
        query = query.where(Event.at >= as_utc(since))
    rows = session.scalars(query.order_by(Event.id.desc()).limit(limit)).all()
    return list(reversed(rows))
