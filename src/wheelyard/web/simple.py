"""The Simple API per owner and label: ``/<owner>/simple/`` (label ``main``) and
``/<owner>/label/<label>/simple/``, HTML or JSON by ``Accept``, with ETags."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from packaging.utils import canonicalize_name
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from wheelyard.web import render
from wheelyard.web.auth import principal_for
from wheelyard.web.context import ctx
from wheelyard.web.errors import error_response
from wheelyard.web.pagecache import Page, PageCache, make_page
from wheelyard.yard import catalog
from wheelyard.yard.access import can_read_private, is_private, readable_label
from wheelyard.yard.names import DEFAULT_LABEL
from wheelyard.yard.tokens import Principal


def label_of(request: Request) -> str:
    return str(request.path_params.get("label", DEFAULT_LABEL))


def build_page(
    session: Session,
    principal: Principal | None,
    owner_name: str,
    label_name: str,
    project: str | None,
    media: str,
    cache: PageCache,
) -> tuple[Page, bool]:
    """The page (from cache while the label's serial is unchanged) and whether it is private."""
    owner, label = readable_label(session, principal, owner_name, label_name)
    privileged = can_read_private(session, principal, owner)
    key = (label.id, project, media, privileged)
    page = cache.get(key, label.serial)
    if page is None:
        as_json = media == render.JSON_V1
        if project is None:
            names = catalog.project_names(session, label.id, privileged)
            body = render.root_json(names) if as_json else render.root_html(names)
            page = make_page(body, media)
        else:
            found = catalog.project_files(session, owner.id, label.id, project, privileged)
            if found is None:
                page = make_page(b'{"error":"no such project"}', "application/json", 404)
            else:
                name, files = found
                body = (render.project_json if as_json else render.project_html)(name, files)
                page = make_page(body, media)
        cache.put(key, label.serial, page)
    # Pages a privileged reader gets may hold private packages: never cache them publicly.
    return page, is_private(owner, label) or privileged


def _load_page(
    session: Session, request: Request, cache: PageCache, project: str | None, media: str
) -> tuple[Page, bool]:
    principal = principal_for(request)
    return build_page(
        session, principal, request.path_params["owner"], label_of(request), project, media, cache
    )


def page_headers(page: Page, private: bool) -> dict[str, str]:
    return {
        "ETag": page.etag,
        "Vary": "Accept, Authorization",
        "Cache-Control": "private, max-age=0, must-revalidate" if private else "max-age=60, public",
    }


PageLoader = Callable[[Request, str], Awaitable[tuple[Page, bool]]]


async def serve_page(request: Request, load: PageLoader) -> Response:
    """Negotiate HTML or PEP 691 JSON, load the page (and whether it is private), answer with
    its ETag (304 when the client has it)."""
    media = render.negotiate(request.headers.get("accept"), request.query_params.get("format"))
    if media is None:
        return error_response(
            406, f"none of the offered types is acceptable: use {render.JSON_V1} or text/html"
        )
    page, private = await load(request, media)
    headers = page_headers(page, private)
    if page.status == 200 and page.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(page.body, status_code=page.status, media_type=page.media_type, headers=headers)


async def _serve(request: Request, project: str | None) -> Response:
    async def load(request: Request, media: str) -> tuple[Page, bool]:
        c = ctx(request)
        return await c.run(_load_page, request, c.pages, project, media)

    return await serve_page(request, load)


async def index_root(request: Request) -> Response:
    return await _serve(request, None)


async def project_page(request: Request) -> Response:
    project = str(request.path_params["project"])
    canonical = canonicalize_name(project)
    if canonical != project:
        path = request.url.path
        base = path[: path.rstrip("/").rfind("/") + 1]
        return RedirectResponse(base + canonical + "/", status_code=301)
    return await _serve(request, project)
