"""Anaconda API extension: ``GET /api/events/{owner}[?since=ISO]``, the owner's audit trail,
for the owner and its organisation's members with an API read scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wheelyard.errors import InvalidInput
from wheelyard.web.anaconda.common import iso, need_principal
from wheelyard.web.context import ctx
from wheelyard.yard.access import writable_owner
from wheelyard.yard.events import events_of
from wheelyard.yard.scopes import AUDIT


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("since must be an ISO 8601 date/time") from None


def _events(session: Session, request: Request) -> list[dict[str, Any]]:
    owner, _p = writable_owner(
        session, need_principal(request), request.path_params["owner"], AUDIT
    )
    since = _since(request.query_params.get("since"))
    return [
        {"at": iso(e.at), "actor": e.actor, "action": e.action, "detail": e.detail}
        for e in events_of(session, owner, since)
    ]


async def list_events(request: Request) -> Response:
    return JSONResponse(await ctx(request).run(_events, request))
