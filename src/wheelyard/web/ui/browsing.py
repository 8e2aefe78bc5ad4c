"""The reading pages: home (owners, search box, how to install), search, owner, package and
label. What a visitor sees is decided by ``access.View`` (via yard/showcase.py and
yard/search.py): the rule the simple index uses."""

from __future__ import annotations

from urllib.parse import quote

from packaging.utils import canonicalize_name
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from wheelyard.db.models import Owner
from wheelyard.web.context import ctx
from wheelyard.web.ui.description import describe
from wheelyard.web.ui.handler import endpoint
from wheelyard.web.ui.install import snippets
from wheelyard.web.ui.labelactions import ACTIONS
from wheelyard.web.ui.pages import render
from wheelyard.web.ui.visitors import anonymous_form_token
from wheelyard.yard import showcase
from wheelyard.yard.access import is_private, knows_owner, owner_view
from wheelyard.yard.names import DEFAULT_LABEL
from wheelyard.yard.search import search
from wheelyard.yard.websessions import Visitor


def _int(text: str | None, default: int) -> int:
    return int(text) if text and text.isascii() and text.isdigit() and len(text) < 9 else default


def _common(request: Request, who: Visitor | None) -> dict[str, object]:
    """What the header of every page needs: the visitor and the token for its forms."""
    return {"visitor": who, "form_token": who.csrf if who else anonymous_form_token(request)}


def _home(session: Session, request: Request, who: Visitor | None, _form: FormData) -> Response:
    principal = who.principal if who else None
    owners = [
        o
        for o in session.scalars(select(Owner).order_by(Owner.name))
        if knows_owner(session, principal, o)
    ]
    return render(request, "home.html", owners=owners, **_common(request, who))


def _search(session: Session, request: Request, who: Visitor | None, _form: FormData) -> Response:
    query = request.query_params.get("q", "")
    hits = search(session, who.principal if who else None, query)
    return render(request, "search.html", query=query, hits=hits, **_common(request, who))


def _owner(session: Session, request: Request, who: Visitor | None, _form: FormData) -> Response:
    principal = who.principal if who else None
    view = owner_view(session, principal, request.path_params["owner"])
    number = _int(request.query_params.get("page"), 1)
    page = showcase.owner_page(session, view, number)
    pages = max(1, -(-page.total // showcase.PACKAGES_PER_PAGE))
    writer = showcase.may_write(session, principal, view.owner)
    return render(
        request,
        "owner.html",
        page=page,
        writer=writer,
        pages=pages,
        number=min(max(1, number), pages),
        **_common(request, who),
    )


def _package(session: Session, request: Request, who: Visitor | None, _form: FormData) -> Response:
    principal = who.principal if who else None
    view = owner_view(session, principal, request.path_params["owner"])
    number = _int(request.query_params.get("page"), 1)
    page = showcase.package_page(session, view, request.path_params["package"], number)
    described = describe(ctx(request).store, page.newest_wheel)
    base = str(request.base_url).rstrip("/")
    labels = page.labels or [DEFAULT_LABEL]
    by_name = {lb.name: lb for lb in view.labels.values()}
    installs = {
        name: snippets(
            base,
            view.owner.name,
            name,
            page.package.name,
            is_private(view.owner, by_name.get(name)) or page.package.private,
        )
        for name in labels
    }
    count = max(1, -(-len(page.versions) // showcase.VERSIONS_PER_PAGE))
    return render(
        request,
        "package.html",
        page=page,
        described=described,
        installs=installs,
        shown=page.shown,
        pages=count,
        number=min(max(1, number), count),
        **_common(request, who),
    )


def _label(session: Session, request: Request, who: Visitor | None, _form: FormData) -> Response:
    principal = who.principal if who else None
    view = owner_view(session, principal, request.path_params["owner"])
    page = showcase.label_page(session, view, request.path_params["label"])
    base = str(request.base_url).rstrip("/")
    private = is_private(view.owner, page.label)
    install = snippets(base, view.owner.name, page.label.name, None, private)
    writer = showcase.may_write(session, principal, view.owner)
    done = ACTIONS.get(request.query_params.get("done") or "")
    return render(
        request,
        "label.html",
        page=page,
        install_snippets=install,
        writer=writer,
        done=done,
        **_common(request, who),
    )


home = endpoint(_home, cache=True)
search_page = endpoint(_search, cache=True)
owner = endpoint(_owner, cache=True)
package = endpoint(_package, cache=True)
label = endpoint(_label, cache=True)


async def owner_slash(request: Request) -> Response:
    # Quoted: a name like "\\host" must not become a redirect to another site.
    return RedirectResponse(f"/{quote(request.path_params['owner'], safe='')}/", status_code=308)


async def package_canonical(request: Request) -> Response:
    """A package page under a name that is not the normalised one moves to that one."""
    name = str(request.path_params["package"])
    if canonicalize_name(name) != name:
        owner_name = request.path_params["owner"]
        target = f"/{quote(owner_name, safe='')}/package/{canonicalize_name(name)}/"
        return RedirectResponse(target, 301)
    return await package(request)
