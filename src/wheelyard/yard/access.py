"""Who may do what: the upload/write and private-read rules shared by every API."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from wheelyard.db.models import Label, Owner
from wheelyard.yard.accounts import can_act_for
from wheelyard.yard.errors import Forbidden, NotFound, Unauthenticated
from wheelyard.yard.scopes import READ, UPLOAD, grants_any
from wheelyard.yard.tokens import Principal


def require_write(
    session: Session,
    principal: Principal | None,
    owner: Owner,
    alternatives: Sequence[str] = UPLOAD,
) -> Principal:
    """Refuse loudly, naming the missing scope, unless the principal may change ``owner``."""
    if principal is None:
        raise Unauthenticated("authentication required: send an API token")
    if not grants_any(principal.scopes, alternatives):
        others = " or ".join(repr(a) for a in alternatives[1:])
        also = f" (or {others})" if others else ""
        raise Forbidden(
            f"token {principal.token_name!r} lacks scope {alternatives[0]!r}{also} "
            f"needed for owner {owner.name!r}"
        )
    if not can_act_for(session, principal.user_id, owner):
        raise Forbidden(f"user {principal.user_name!r} may not write to owner {owner.name!r}")
    return principal


def is_private(owner: Owner, label: Label | None) -> bool:
    return owner.private or (label is not None and label.private)


def can_read(
    session: Session, principal: Principal | None, owner: Owner, label: Label | None
) -> bool:
    if not is_private(owner, label):
        return True
    return can_read_private(session, principal, owner)


def can_read_private(session: Session, principal: Principal | None, owner: Owner) -> bool:
    """Whether the principal may see everything of ``owner``: private labels and packages too."""
    return (
        principal is not None
        and grants_any(principal.scopes, READ)
        and can_act_for(session, principal.user_id, owner)
    )


def readable_label(
    session: Session, principal: Principal | None, owner_name: str, label_name: str
) -> tuple[Owner, Label]:
    """The owner and label if the principal may read them; otherwise as if they did not exist.

    A member whose token lacks a read scope is told which scope is missing; anyone else learns
    nothing about a private owner or label.
    """
    from wheelyard.yard.catalog import resolve  # local: catalog imports nothing from here

    owner, label = resolve(session, owner_name, label_name)
    if label is None:
        raise NotFound(f"owner {owner_name!r} has no label {label_name!r}")
    if can_read(session, principal, owner, label):
        return owner, label
    if principal is not None and can_act_for(session, principal.user_id, owner):
        raise Forbidden(
            f"token {principal.token_name!r} lacks scope {READ[0]!r} (or 'api:read') "
            f"needed to read {owner.name!r}/{label.name!r}"
        )
    raise NotFound(f"owner {owner_name!r} has no label {label_name!r}")


def readable_labels(
    session: Session, principal: Principal | None, owner_name: str
) -> tuple[Owner, list[Label], bool]:
    """The owner, every label of it the principal may read, and whether it may read private
    ones; NotFound when it may read none (as if the owner did not exist)."""
    from wheelyard.yard.catalog import owner_labels, resolve

    owner, _label = resolve(session, owner_name, "")
    privileged = can_read_private(session, principal, owner)
    labels = [
        lab for lab in owner_labels(session, owner.id) if privileged or not is_private(owner, lab)
    ]
    if not labels:
        raise NotFound(f"no owner named {owner_name!r}")
    return owner, labels, privileged
