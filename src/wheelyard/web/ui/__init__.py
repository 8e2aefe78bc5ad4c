"""The web UI: server-rendered pages (Jinja2 templates, one small stylesheet, no script) to
browse, search and administer the yard in a browser, with the APIs' rules and services.

Its fixed pages live under ``/-/`` (no owner name can start with ``-``); owner pages are
``/<owner>/``, package pages ``/<owner>/package/<name>/``, label pages
``/<owner>/label/<label>/``, beside the index URLs pip uses, which are unchanged.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from wheelyard.web.routing import by_method
from wheelyard.web.ui import account, activity, browsing, labelactions, tokens

STATIC = Path(__file__).with_name("static")


def routes() -> list[BaseRoute]:
    return [
        Route("/-/search", browsing.search_page, methods=["GET"]),
        *by_method("/-/login", GET=account.login_form, POST=account.login),
        Route("/-/logout", account.logout, methods=["POST"]),
        *by_method("/-/tokens", GET=tokens.tokens, POST=tokens.create),
        *by_method("/-/tokens/revoke", GET=tokens.confirm_revoke, POST=tokens.revoke),
        Mount("/-/static", StaticFiles(directory=STATIC), name="static"),
        Route("/{owner}", browsing.owner_slash, methods=["GET"]),
        Route("/{owner}/", browsing.owner, methods=["GET"]),
        Route("/{owner}/-/activity", activity.activity, methods=["GET"]),
        Route("/{owner}/package/{package}/", browsing.package_canonical, methods=["GET"]),
        Route("/{owner}/label/{label}/", browsing.label, methods=["GET"]),
        *by_method(
            "/{owner}/label/{label}/-/{action}", GET=labelactions.confirm, POST=labelactions.act
        ),
    ]
