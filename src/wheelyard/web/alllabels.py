"""An owner's project across every label the reader may read:
``/<owner>/all-labels/simple/<project>/`` (PEP 503 HTML or PEP 691 JSON) and its files.

Each label has its own index, as on Anaconda.org; this view answers "does the owner hold this
file anywhere, with which sha256" in one request per project — what the builder asks before
building. A file is yanked here only if every readable label holding it yanked it. Pages are
rendered per request (no cache), and private whenever the reader sees private labels.
"""

from __future__ import annotations

from packaging.utils import canonicalize_name
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from wheelyard.web import render
from wheelyard.web.auth import principal_for
from wheelyard.web.context import ctx
from wheelyard.web.files import Located, serve
from wheelyard.web.pagecache import Page, make_page
from wheelyard.web.simple import serve_page
from wheelyard.yard import catalog
from wheelyard.yard.access import readable_file_any_label, readable_labels


def _page(session: Session, request: Request, project: str, media: str) -> tuple[Page, bool]:
    principal = principal_for(request)
    owner, labels, privileged = readable_labels(session, principal, request.path_params["owner"])
    ids = [label.id for label in labels]
    found = catalog.project_files_any(session, owner.id, ids, project, privileged)
    if found is None:
        return make_page(b'{"error":"no such project"}', "application/json", 404), privileged
    name, files = found
    body = (render.project_json if media == render.JSON_V1 else render.project_html)(name, files)
    return make_page(body, media), privileged or owner.private


async def project_page(request: Request) -> Response:
    project = str(request.path_params["project"])
    if canonicalize_name(project) != project:
        return RedirectResponse(f"../{canonicalize_name(project)}/", status_code=301)

    async def load(request: Request, media: str) -> tuple[Page, bool]:
        return await ctx(request).run(_page, request, project, media)

    return await serve_page(request, load)


def _locate(session: Session, request: Request, sha256: str, filename: str) -> Located:
    owner = request.path_params["owner"]
    file, private = readable_file_any_label(
        session, principal_for(request), owner, sha256, filename
    )
    return Located(file.blob_key, file.size, file.metadata_sha256, private, file.id)


async def download(request: Request) -> Response:
    return await serve(request, _locate)
