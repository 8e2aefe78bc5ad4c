"""Token pages: the visitor's tokens with their last use, a form to create one (name, scopes
from a checklist, expiry) whose secret is shown exactly once, and revocation after a
confirmation step. The rules are yard/access.py's; the work is yard/tokens.py's."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from wheelyard.db.session import savepoint
from wheelyard.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from wheelyard.web.ui.handler import endpoint
from wheelyard.web.ui.pages import redirect, render
from wheelyard.yard.access import require_token_management
from wheelyard.yard.scopes import SCOPES, TOKENS_READ, TOKENS_WRITE
from wheelyard.yard.tokens import create_token, list_tokens, revoke_token
from wheelyard.yard.websessions import Visitor

# Choices of the expiry field: label -> lifetime in seconds ("" never expires).
EXPIRY = {
    "1 day": "86400",
    "30 days": "2592000",
    "90 days": "7776000",
    "1 year": "31536000",
    "never": "",
}
DEFAULT_EXPIRY = "90 days"


def _need(who: Visitor | None) -> Visitor:
    if who is None:
        raise Unauthenticated("log in to manage your tokens")
    return who


def _page(
    session: Session,
    request: Request,
    who: Visitor,
    status: int = 200,
    created: tuple[str, str] | None = None,
    error: str = "",
) -> Response:
    require_token_management(who.principal, TOKENS_READ, "list tokens")
    return render(
        request,
        "tokens.html",
        status,
        visitor=who,
        form_token=who.csrf,
        tokens=list_tokens(session, who.user),
        scopes=SCOPES,
        expiry=EXPIRY,
        default_expiry=DEFAULT_EXPIRY,
        created=created,
        error=error,
    )


def _list(session: Session, request: Request, who: Visitor | None, _form: FormData) -> Response:
    return _page(session, request, _need(who))


def _create(session: Session, request: Request, who: Visitor | None, form: FormData) -> Response:
    who = _need(who)
    require_token_management(who.principal, TOKENS_WRITE, "create tokens")
    name = str(form.get("name", "")).strip()
    scopes = [str(s) for s in form.getlist("scope")]
    expiry = EXPIRY.get(str(form.get("expiry", "")))
    try:
        if not scopes:
            raise InvalidInput("choose at least one scope")
        if expiry is None:
            raise InvalidInput("choose an expiry from the list")
        with savepoint(session):  # a refused name leaves the rest of the unit as it was
            _token, secret = create_token(
                session, who.user, name, scopes, int(expiry) if expiry else None
            )
    except (InvalidInput, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 400
        return _page(session, request, who, status, error=exc.message)
    # Shown once, on this answer only: it is not stored, and the page is never cached.
    return _page(session, request, who, 201, created=(name, secret))


def _confirm(session: Session, request: Request, who: Visitor | None, _form: FormData) -> Response:
    who = _need(who)
    require_token_management(who.principal, TOKENS_WRITE, "revoke tokens")
    name = request.query_params.get("name", "")
    token = next((t for t in list_tokens(session, who.user) if t.name == name), None)
    if token is None:
        raise NotFound(f"you have no token named {name!r}")
    return render(request, "token_revoke.html", visitor=who, form_token=who.csrf, token=token)


def _revoke(session: Session, request: Request, who: Visitor | None, form: FormData) -> Response:
    who = _need(who)
    require_token_management(who.principal, TOKENS_WRITE, "revoke tokens")
    revoke_token(session, who.user, str(form.get("name", "")))
    return redirect("/-/tokens")


tokens = endpoint(_list)
create = endpoint(_create)
confirm_revoke = endpoint(_confirm)
revoke = endpoint(_revoke)
