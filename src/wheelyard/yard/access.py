"""Who may see and do what: the one privacy and permission rule every surface asks.

Visibility has two levels. An owner's *existence* is hidden when it is private, except from
its users (the owner itself, members of an org): they learn it exists even with a token
that lacks a read scope, and are then told which scope is missing. Its *contents* — private
labels, private packages, files held only by private labels — need a read scope on top.
Whatever a principal may not see answers exactly like something missing: same error class,
same message. The simple index, the all-labels view, downloads, the Anaconda API, label
listings, copies and the CLI all ask the functions here; none re-implements a check.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from wheelyard.db.models import File, Label, Owner, Package
from wheelyard.errors import Forbidden, NotFound, Unauthenticated
from wheelyard.yard.accounts import can_act_for, get_owner
from wheelyard.yard.scopes import READ, UPLOAD, grants_any
from wheelyard.yard.tokens import Principal


def missing_owner(name: str) -> NotFound:
    """The error for an owner that does not exist — and for one the reader may not see."""
    return NotFound(f"no owner named {name.lower()!r}")


def missing_label(owner: Owner, label_name: str) -> NotFound:
    return NotFound(f"owner {owner.name!r} has no label {label_name!r}")


def missing_package(owner: Owner, name: str) -> NotFound:
    return NotFound(f"package {owner.name}/{name} does not exist")


def is_private(owner: Owner, label: Label | None) -> bool:
    return owner.private or (label is not None and label.private)


def knows_owner(session: Session, principal: Principal | None, owner: Owner) -> bool:
    """Whether the principal may learn that ``owner`` exists."""
    if not owner.private:
        return True
    return principal is not None and can_act_for(session, principal, owner)


def can_read_private(session: Session, principal: Principal | None, owner: Owner) -> bool:
    """Whether the principal may see everything of ``owner``: private labels and packages too."""
    return (
        principal is not None
        and grants_any(principal.scopes, READ)
        and can_act_for(session, principal, owner)
    )


def can_read(
    session: Session, principal: Principal | None, owner: Owner, label: Label | None
) -> bool:
    if not is_private(owner, label):
        return True
    return can_read_private(session, principal, owner)


def visible_owner(session: Session, principal: Principal | None, name: str) -> Owner:
    """The owner, or the very error a missing owner gives."""
    try:
        owner = get_owner(session, name)
    except NotFound:
        raise missing_owner(name) from None
    if not knows_owner(session, principal, owner):
        raise missing_owner(name)
    return owner


def require_scope(principal: Principal, alternatives: Sequence[str], needed: str) -> None:
    """Refuse (403, naming the first alternative) unless the token holds one of them."""
    if not grants_any(principal.scopes, alternatives):
        others = " or ".join(repr(a) for a in alternatives[1:])
        also = f" (or {others})" if others else ""
        raise Forbidden(
            f"token {principal.token_name!r} lacks scope {alternatives[0]!r}{also} needed {needed}"
        )


def require_token_management(principal: Principal, alternatives: Sequence[str], doing: str) -> None:
    """Token management is the user's own business: it needs an API scope, and a token made
    for an organisation may not manage its user's tokens at all."""
    if principal.org_id is not None:
        raise Forbidden(
            f"token {principal.token_name!r} acts only for an organisation and cannot {doing}"
        )
    require_scope(principal, alternatives, f"to {doing}")


def require_write(
    session: Session,
    principal: Principal | None,
    owner: Owner,
    alternatives: Sequence[str] = UPLOAD,
) -> Principal:
    """Refuse loudly, naming the missing scope, unless the principal may change ``owner``.

    An owner the principal may not even know of answers as missing.
    """
    if not knows_owner(session, principal, owner):
        raise missing_owner(owner.name)
    if principal is None:
        raise Unauthenticated("authentication required: send an API token")
    require_scope(principal, alternatives, f"for owner {owner.name!r}")
    if not can_act_for(session, principal, owner):
        raise Forbidden(f"user {principal.user_name!r} may not write to owner {owner.name!r}")
    return principal


def writable_owner(
    session: Session,
    principal: Principal | None,
    name: str,
    alternatives: Sequence[str] = UPLOAD,
) -> tuple[Owner, Principal]:
    """The owner by name and the principal, if it may change that owner."""
    owner = visible_owner(session, principal, name)
    return owner, require_write(session, principal, owner, alternatives)


class Privacy(Protocol):
    """A package as a listing reads it (a row of columns will do): whether it is private."""

    @property
    def private(self) -> bool: ...


@dataclass(frozen=True)
class View:
    """What one principal may see of one owner: its readable labels, and whether private
    packages and files outside those labels are visible too."""

    owner: Owner
    privileged: bool
    labels: dict[int, Label]

    def sees_label(self, label: Label) -> bool:
        return label.id in self.labels

    def sees_package(self, package: Package | Privacy) -> bool:
        return self.privileged or not package.private

    def sees_file(self, package: Package, label_ids: Iterable[int]) -> bool:
        """A file is visible with its package, and only through a label the reader may read
        (a privileged reader also sees files that no label holds)."""
        if not self.sees_package(package):
            return False
        return self.privileged or any(lid in self.labels for lid in label_ids)

    def shows_package(
        self, package: Package | Privacy, file_label_ids: Collection[int | None]
    ) -> bool:
        """Whether a reader lists the package, given the label of each (file, label) link of
        its files (None for a file no label holds): a package it may see that has a file it
        may see, or no files at all (an empty package reveals nothing private). The batched
        form of ``browse.get_package``'s rule, for listings and search."""
        if not self.sees_package(package):
            return False
        if self.privileged or not file_label_ids:
            return True
        return any(lid in self.labels for lid in file_label_ids if lid is not None)

    def label_names(self, label_ids: Iterable[int]) -> tuple[str, ...]:
        return tuple(sorted(self.labels[lid].name for lid in label_ids if lid in self.labels))


def view_of(session: Session, principal: Principal | None, owner: Owner) -> View:
    """The principal's view of an owner it may know of (see ``visible_owner``)."""
    from wheelyard.yard.catalog import owner_labels  # local: catalog imports nothing from here

    privileged = can_read_private(session, principal, owner)
    labels = {
        lab.id: lab
        for lab in owner_labels(session, owner.id)
        if privileged or not is_private(owner, lab)
    }
    return View(owner, privileged, labels)


def owner_view(session: Session, principal: Principal | None, owner_name: str) -> View:
    return view_of(session, principal, visible_owner(session, principal, owner_name))


def readable_label(
    session: Session, principal: Principal | None, owner_name: str, label_name: str
) -> tuple[Owner, Label]:
    """The owner and label if the principal may read them; otherwise as if they did not exist.

    A user of the owner whose token lacks a read scope is told which scope is missing; anyone
    else learns nothing about a private owner or label.
    """
    from wheelyard.yard.catalog import resolve

    try:
        owner, label = resolve(session, owner_name, label_name)
    except NotFound:
        raise missing_owner(owner_name) from None
    return owner, _readable(session, principal, owner, label, owner_name, label_name)


def _readable(
    session: Session,
    principal: Principal | None,
    owner: Owner,
    label: Label | None,
    owner_name: str,
    label_name: str,
) -> Label:
    """``readable_label``'s rule on an owner and label already looked up."""
    if not knows_owner(session, principal, owner):
        raise missing_owner(owner_name)
    if label is None:
        raise missing_label(owner, label_name)
    if can_read(session, principal, owner, label):
        return label
    if principal is not None and can_act_for(session, principal, owner):
        raise Forbidden(
            f"token {principal.token_name!r} lacks scope {READ[0]!r} (or 'api:read') "
            f"needed to read {owner.name!r}/{label.name!r}"
        )
    raise missing_label(owner, label_name)


def readable_file(
    session: Session,
    principal: Principal | None,
    owner_name: str,
    label_name: str,
    sha256: str,
    filename: str,
) -> tuple[Label, File, bool]:
    """The label and the file under it if the principal may read them, and whether the file
    is private (by its owner, label or package); the errors of ``readable_label`` otherwise,
    and a file of a private package answers as a missing one. One query for anonymous reads.
    """
    from wheelyard.yard.catalog import resolve_file

    try:
        owner, label, found = resolve_file(session, owner_name, label_name, sha256, filename)
    except NotFound:
        raise missing_owner(owner_name) from None
    label = _readable(session, principal, owner, label, owner_name, label_name)
    if found is None or (found[1] and not can_read_private(session, principal, owner)):
        raise NotFound(f"no file {filename} under this label")
    file, package_private = found
    return label, file, is_private(owner, label) or package_private


def readable_labels(
    session: Session, principal: Principal | None, owner_name: str
) -> tuple[Owner, list[Label], bool]:
    """The owner, every label of it the principal may read, and whether it may read private
    ones; NotFound when it may read none (as if the owner did not exist)."""
    view = owner_view(session, principal, owner_name)
    if not view.labels:
        raise missing_owner(owner_name)
    return view.owner, list(view.labels.values()), view.privileged


def readable_file_any_label(
    session: Session, principal: Principal | None, owner_name: str, sha256: str, filename: str
) -> tuple[File, bool]:
    """The file under any label of the owner the principal may read, and whether it is
    private (by its owner, a private label the reader sees, or its package); a file of a
    private package answers as a missing one, as in ``readable_file``."""
    from wheelyard.yard.catalog import file_in_labels

    owner, labels, privileged = readable_labels(session, principal, owner_name)
    found = file_in_labels(session, [label.id for label in labels], sha256, filename)
    if found is None or (found[1] and not privileged):
        raise NotFound(f"no file {filename} under any label of {owner.name!r} you may read")
    file, package_private = found
    return file, privileged or owner.private or package_private


def readable_package(session: Session, view: View, name: str, package: Package | None) -> Package:
    """``package`` (looked up by ``name``) if the view shows it; the missing error otherwise."""
    if package is None or not view.sees_package(package):
        raise missing_package(view.owner, name)
    return package


def may_read_metrics(mode: str, principal: Principal | None) -> None:
    """Who may read the server's metrics (``WHEELYARD_METRICS``): nobody (``off``: the route
    answers like a missing page), anyone (``public``, the default: metrics carry route
    templates and counts, never owner names or paths), or any valid token (``token``)."""
    if mode == "off":
        raise NotFound("no such page")
    if mode == "token" and principal is None:
        raise Unauthenticated("reading metrics needs a token")
