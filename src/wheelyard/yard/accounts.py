"""Users and organisations: creation, look-up, password login and membership."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wheelyard.db.models import Label, Membership, Owner
from wheelyard.db.session import savepoint
from wheelyard.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from wheelyard.yard.names import DEFAULT_LABEL, check_owner_name
from wheelyard.yard.passwords import hash_password, verify_password
from wheelyard.yard.tokens import Principal

MIN_PASSWORD = 8


def _create_owner(session: Session, name: str, kind: str, password_hash: str | None) -> Owner:
    owner = Owner(name=check_owner_name(name), kind=kind, password_hash=password_hash)
    try:
        with savepoint(session):  # a taken name fails alone, not the caller's unit
            session.add(owner)
            session.flush()
    except IntegrityError:
        raise Conflict(f"owner {name!r} already exists") from None
    session.add(Label(owner_id=owner.id, name=DEFAULT_LABEL))
    return owner


def create_user(session: Session, name: str, password: str) -> Owner:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password too short: use at least {MIN_PASSWORD} characters")
    return _create_owner(session, name, "user", hash_password(password))


def create_org(session: Session, name: str, owner_user: str) -> Owner:
    user = get_user(session, owner_user)
    org = _create_owner(session, name, "org", None)
    session.add(Membership(org_id=org.id, user_id=user.id, role="owner"))
    return org


def add_member(session: Session, org_name: str, user_name: str) -> None:
    org = get_owner(session, org_name)
    if org.kind != "org":
        raise InvalidInput(f"{org_name!r} is a user, not an organisation")
    user = get_user(session, user_name)
    if session.get(Membership, (org.id, user.id)) is None:
        session.add(Membership(org_id=org.id, user_id=user.id, role="member"))


def get_owner(session: Session, name: str) -> Owner:
    owner = session.scalar(select(Owner).where(Owner.name == name.lower()))
    if owner is None:
        raise NotFound(f"no owner named {name.lower()!r}")  # the same text as access.missing_owner
    return owner


def get_user(session: Session, name: str) -> Owner:
    owner = get_owner(session, name)
    if owner.kind != "user":
        raise InvalidInput(f"{name!r} is an organisation, not a user")
    return owner


def login(session: Session, name: str, password: str) -> Owner:
    """The user whose password this is; one generic error for every failure."""
    user = session.scalar(select(Owner).where(Owner.name == name.lower(), Owner.kind == "user"))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthenticated("invalid user name or password")
    return user


def can_act_for(session: Session, who: int | Principal, owner: Owner) -> bool:
    """Whether ``who`` may act as ``owner``: it is the user, or an org the user belongs to.

    Given a principal whose token was made for an organisation, only that organisation
    qualifies (not the user's own namespace, not their other orgs). Pass the principal, not
    its ``user_id``, wherever a request's token is what acts.
    """
    if isinstance(who, Principal):
        if who.org_id is not None and owner.id != who.org_id:
            return False
        user_id = who.user_id
    else:
        user_id = who
    if owner.id == user_id:
        return True
    return owner.kind == "org" and session.get(Membership, (owner.id, user_id)) is not None


def orgs_of(session: Session, user_id: int) -> list[Owner]:
    return list(
        session.scalars(
            select(Owner)
            .join(Membership, Membership.org_id == Owner.id)
            .where(Membership.user_id == user_id)
            .order_by(Owner.name)
        )
    )
