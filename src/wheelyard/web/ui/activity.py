"""An owner's activity page: its audit trail (yard/events.py), newest first, for the users
the event API shows it to (access rule ``writable_owner`` with the audit scope)."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from wheelyard.errors import Unauthenticated
from wheelyard.web.ui.handler import endpoint
from wheelyard.web.ui.pages import render
from wheelyard.yard.access import owner_view, writable_owner
from wheelyard.yard.events import events_of
from wheelyard.yard.scopes import AUDIT
from wheelyard.yard.websessions import Visitor

SHOWN = 500


def _activity(session: Session, request: Request, who: Visitor | None, _form: FormData) -> Response:
    if who is None:
        owner_view(session, None, request.path_params["owner"])  # unknown or private: 404
        raise Unauthenticated("log in to see this owner's activity")
    owner, _p = writable_owner(session, who.principal, request.path_params["owner"], AUDIT)
    events = list(reversed(events_of(session, owner, limit=SHOWN)))
    return render(
        request, "activity.html", visitor=who, form_token=who.csrf, owner=owner, events=events
    )


activity = endpoint(_activity)
