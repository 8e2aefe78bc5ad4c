"""The Anaconda.org-compatible REST API (what the unmodified ``anaconda`` client speaks),
served under ``/api`` over the same yard as the PyPI surfaces."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from wheelyard.web.anaconda import accounts, channels, events, packages, transfer
from wheelyard.web.routing import by_method


async def api_root(request: Request) -> Response:
    # The client's server check is HEAD on the bare API URL and accepts only 200.
    return JSONResponse({"app": "wheelyard", "api": "anaconda"})


def routes() -> list[BaseRoute]:
    fileparts = "{owner}/{package}/{version}/{basename:path}"
    return [
        Route("/", api_root, methods=["GET", "HEAD"]),
        Route("/authentication-type", accounts.authentication_type),
        Route("/scopes", accounts.scopes),
        *by_method(
            "/authentications",
            POST=accounts.create_token,
            GET=accounts.list_tokens,
            DELETE=accounts.remove_token,
        ),
        Route("/authentications/name/{name}", accounts.remove_token, methods=["DELETE"]),
        Route("/authentications/org/{org}/name/{name}", accounts.remove_token, methods=["DELETE"]),
        Route("/authentication", accounts.current_token),
        Route("/user", accounts.whoami),
        Route("/user/orgs", accounts.orgs),
        Route("/user/{owner}", accounts.user),
        Route("/users/{owner}/orgs", accounts.orgs),
        Route("/events/{owner}", events.list_events),
        Route("/packages/{owner}", packages.list_packages),
        *by_method(
            "/package/{owner}/{package}",
            GET=packages.show_package,
            POST=packages.create_package,
            PATCH=packages.patch,
            DELETE=packages.remove,
        ),
        *by_method(
            "/release/{owner}/{package}/{version}",
            GET=packages.show_release,
            POST=packages.create_release,
            PATCH=packages.patch,
            DELETE=packages.remove,
        ),
        *by_method(f"/dist/{fileparts}", GET=packages.show_file, DELETE=packages.remove_file),
        Route(f"/download/{fileparts}", packages.download),
        Route(f"/stage/{fileparts}", transfer.stage, methods=["POST"]),
        Route(
            "/stage-upload/{dist_id}", transfer.receive, methods=["POST"], name="anaconda_receive"
        ),
        Route(f"/commit/{fileparts}", transfer.commit, methods=["POST"]),
        Route("/channels/{owner}", channels.list_labels),
        *by_method(
            "/channels/{owner}/{label}",
            GET=channels.show_label,
            DELETE=channels.remove_label,
            POST=channels.tag_files,
        ),
        Route("/channels/{owner}/{label}/copy/{target}", channels.copy_label, methods=["POST"]),
        Route("/channels/{owner}/{label}/lock", channels.lock, methods=["POST", "DELETE"]),
        Route(
            "/copy/package/{owner}/{package}/{version}/",
            channels.copy,
            methods=["POST", "PUT", "PATCH"],
        ),
        Route(f"/copy/package/{fileparts}", channels.copy, methods=["POST", "PUT", "PATCH"]),
    ]
