"""Label actions in the browser: copy, lock, unlock, make private or public, remove. Each
shows a confirmation page first (GET), and acts on its form post (POST, with the CSRF token).
Who may act is yard/access.py's rule (``writable_owner`` with the label API's scope); the work
is yard/labels.py's; the handler commits once."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from wheelyard.db.models import Owner
from wheelyard.errors import NotFound, Unauthenticated
from wheelyard.web.context import ctx
from wheelyard.web.ui.handler import endpoint
from wheelyard.web.ui.pages import redirect, render
from wheelyard.yard import labels as ops
from wheelyard.yard.access import owner_view, writable_owner
from wheelyard.yard.scopes import WRITE
from wheelyard.yard.websessions import Visitor


@dataclass(frozen=True)
class Action:
    title: str
    explain: str
    done: str  # shown once it is done


ACTIONS = {
    "copy": Action(
        "Copy label",
        "Every file of this label also gets the target label (created if it does not exist). "
        "No file is duplicated.",
        "Copied: the files of the source label now carry this one too.",
    ),
    "lock": Action(
        "Lock label",
        "No file can be added to or removed from a locked label.",
        "Locked: no file can be added or removed until it is unlocked.",
    ),
    "unlock": Action(
        "Unlock label", "Files can be added to and removed from it again.", "Unlocked."
    ),
    "private": Action(
        "Make label private",
        "Only readers with a token that may read this owner see it.",
        "Now private: readers need a token that may read this owner.",
    ),
    "public": Action(
        "Make label public",
        "Anyone may read this label and install from it.",
        "Now public: anyone may read and install from it.",
    ),
    "remove": Action(
        "Remove label",
        "The label goes; files that no other label holds are deleted. This cannot be undone.",
        "The label was removed.",
    ),
}


def _action(request: Request) -> tuple[str, Action]:
    name = str(request.path_params["action"])
    if name not in ACTIONS:
        raise NotFound(f"no label action {name!r}")
    return name, ACTIONS[name]


def _writer(session: Session, request: Request, who: Visitor | None) -> Owner:
    if who is None:
        # An anonymous visitor learns nothing of private owners: look it up as a reader first.
        owner_view(session, None, request.path_params["owner"])
        raise Unauthenticated("log in to change labels")
    owner, _principal = writable_owner(session, who.principal, request.path_params["owner"], WRITE)
    return owner


def _confirm(session: Session, request: Request, who: Visitor | None, _form: FormData) -> Response:
    name, action = _action(request)
    owner = _writer(session, request, who)
    label = ops.get_label(session, owner, request.path_params["label"])
    assert who is not None
    return render(
        request,
        "label_action.html",
        visitor=who,
        form_token=who.csrf,
        owner=owner,
        label=label,
        name=name,
        action=action,
    )


def _act(session: Session, request: Request, who: Visitor | None, form: FormData) -> Response:
    name, _unused = _action(request)
    owner = _writer(session, request, who)
    assert who is not None
    actor = who.user.name
    label_name = str(request.path_params["label"])
    ops.get_label(session, owner, label_name)  # acting on a label that does not exist: 404
    target = label_name
    if name == "copy":
        target = str(form.get("target", "")).strip()
        ops.copy_label(session, owner, label_name, target, actor)
    elif name in ("lock", "unlock"):
        ops.set_locked(session, owner, label_name, name == "lock", actor)
    elif name in ("private", "public"):
        ops.set_private(session, owner, label_name, name == "private", actor)
    else:
        ops.remove_label(session, ctx(request).store, owner, label_name, actor)
    base = f"/{quote(owner.name, safe='')}"
    if name == "remove":
        return redirect(f"{base}/?done=remove")
    # The page shows the action's own message: nothing from the URL is echoed.
    return redirect(f"{base}/label/{quote(target, safe='')}/?done={name}")


confirm = endpoint(_confirm)
act = endpoint(_act)
