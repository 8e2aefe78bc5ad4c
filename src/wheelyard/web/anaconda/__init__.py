"""The Anaconda.org-compatible REST API (what the unmodified ``anaconda`` client speaks),
served under ``/api`` over the same yard as the PyPI surfaces."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from wheelyard.web.anaconda import accounts, channels, events, packages, transfer


async def api_root(request: Request) -> Response:
    # The client's server check is HEAD on the bare API URL and accepts only 200.
    return JSONResponse({"app": "wheelyard", "api": "anaconda"})


def routes() -> list[BaseRoute]:
    fileparts = "{owner}/{package}/{version}/{basename:path}"
    return [
        Route("/", api_root, methods=["GET", "HEAD"]),
        Route("/authentication-type", accounts.authentication_type),
        Route("/scopes", accounts.scopes),
        Route("/authentications", accounts.create_token, methods=["POST"]),
        Route("/authentications", accounts.list_tokens, methods=["GET"]),
        Route("/authentications", accounts.remove_token, methods=["DELETE"]),
        Route("/authentications/name/{name}", accounts.remove_token, methods=["DELETE"]),
        Route("/authentications/org/{org}/name/{name}", accounts.remove_token, methods=["DELETE"]),
        Route("/authentication", accounts.current_token),
        Route("/user", accounts.whoami),
        Route("/user/orgs", accounts.orgs),
        Route("/user/{owner}", accounts.user),
        Route("/users/{owner}/orgs", accounts.orgs),
        Route("/events/{owner}", events.list_events),
        Route("/packages/{owner}", packages.list_packages),
        Route("/package/{owner}/{package}", packages.show_package, methods=["GET"]),
        Route("/package/{owner}/{package}", packages.create_package, methods=["POST"]),
        Route("/package/{owner}/{package}", packages.patch, methods=["PATCH"]),
        Route("/package/{owner}/{package}", packages.remove, methods=["DELETE"]),
        Route("/release/{owner}/{package}/{version}", packages.show_release, methods=["GET"]),
        Route("/release/{owner}/{package}/{version}", packages.create_release, methods=["POST"]),
        Route("/release/{owner}/{package}/{version}", packages.patch, methods=["PATCH"]),
        Route("/release/{owner}/{package}/{version}", packages.remove, methods=["DELETE"]),
        Route(f"/dist/{fileparts}", packages.show_file, methods=["GET"]),
        Route(f"/dist/{fileparts}", packages.remove_file, methods=["DELETE"]),
        Route(f"/download/{fileparts}", packages.download),
        Route(f"/stage/{fileparts}", transfer.stage, methods=["POST"]),
        Route(
            "/stage-upload/{dist_id}", transfer.receive, methods=["POST"], name="anaconda_receive"
        ),
        Route(f"/commit/{fileparts}", transfer.commit, methods=["POST"]),
        Route("/channels/{owner}", channels.list_labels),
        Route("/channels/{owner}/{label}", channels.show_label, methods=["GET"]),
        Route("/channels/{owner}/{label}", channels.remove_label, methods=["DELETE"]),
        Route("/channels/{owner}/{label}", channels.tag_files, methods=["POST"]),
        Route("/channels/{owner}/{label}/copy/{target}", channels.copy_label, methods=["POST"]),
        Route("/channels/{owner}/{label}/lock", channels.lock, methods=["POST", "DELETE"]),
        Route(
            "/copy/package/{owner}/{package}/{version}/",
            channels.copy,
            methods=["POST", "PUT", "PATCH"],
        ),
        Route(f"/copy/package/{fileparts}", channels.copy, methods=["POST", "PUT", "PATCH"]),
    ]
