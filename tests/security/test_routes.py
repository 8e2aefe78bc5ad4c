"""Authorization per route: every route of the application has a rule in ROUTES (a new route
without one fails this file), and every route that changes something refuses, before it acts,
the anonymous, expired, revoked, under-scoped and other users' tokens, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass

import httpx
import pytest
from starlette.routing import Mount, Route

from tests.helpers import PASSWORD, Yard, start_yard, stop_yard
from wheelyard.testing import make_wheel
from wheelyard.web.app import routes

pytestmark = pytest.mark.e2e

OWN, P, V = "alice", "pkg", "1.0"
F = "pkg-1.0-py3-none-any.whl"
SHA = "0" * 64

# (method, route template) -> (rule, concrete path). Rules: public, read (private things need a
# read scope), token (any valid token), upload (pypi:upload | api:write), write (api:write),
# tokens-read / tokens-write (token management), audit (api:read of the owner's user), stage
# (the single-use stage secret), login (a password or an api:write token).
ROUTES: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/"): ("public", "/"),
    ("GET", "/-/health"): ("public", "/-/health"),
    ("GET", "/-/ready"): ("public", "/-/ready"),
    # WHEELYARD_METRICS: off by default (404, as here), public or token: tests/web/test_metrics.py
    ("GET", "/-/metrics"): ("public", "/-/metrics"),
    ("GET", "/api"): ("public", "/api"),
    ("GET", "/api/"): ("public", "/api/"),
    ("GET", "/api/build-records/{owner}/{label}/{key}"): (
        "read",
        f"/api/build-records/{OWN}/main/{SHA}",
    ),
    ("PUT", "/api/build-records/{owner}/{label}/{key}"): (
        "upload",
        f"/api/build-records/{OWN}/main/{SHA}",
    ),
    ("GET", "/api/authentication-type"): ("public", "/api/authentication-type"),
    ("GET", "/api/scopes"): ("public", "/api/scopes"),
    ("POST", "/api/authentications"): ("login", "/api/authentications"),
    ("GET", "/api/authentications"): ("tokens-read", "/api/authentications"),
    ("DELETE", "/api/authentications"): ("token", "/api/authentications"),
    ("DELETE", "/api/authentications/name/{name}"): (
        "tokens-write",
        "/api/authentications/name/other",
    ),
    ("DELETE", "/api/authentications/org/{org}/name/{name}"): (
        "tokens-write",
        f"/api/authentications/org/{OWN}org/name/other",
    ),
    ("GET", "/api/authentication"): ("token", "/api/authentication"),
    ("GET", "/api/user"): ("token", "/api/user"),
    ("GET", "/api/user/orgs"): ("token", "/api/user/orgs"),
    ("GET", "/api/user/{owner}"): ("public", f"/api/user/{OWN}"),
    ("GET", "/api/users/{owner}/orgs"): ("public", f"/api/users/{OWN}/orgs"),
    ("GET", "/api/events/{owner}"): ("audit", f"/api/events/{OWN}"),
    ("GET", "/api/packages/{owner}"): ("read", f"/api/packages/{OWN}"),
    ("GET", "/api/package/{owner}/{package}"): ("read", f"/api/package/{OWN}/{P}"),
    ("POST", "/api/package/{owner}/{package}"): ("upload", f"/api/package/{OWN}/{P}"),
    ("PATCH", "/api/package/{owner}/{package}"): ("upload", f"/api/package/{OWN}/{P}"),
    ("DELETE", "/api/package/{owner}/{package}"): ("write", f"/api/package/{OWN}/{P}"),
    ("GET", "/api/release/{owner}/{package}/{version}"): ("read", f"/api/release/{OWN}/{P}/{V}"),
    ("POST", "/api/release/{owner}/{package}/{version}"): (
        "upload",
        f"/api/release/{OWN}/{P}/{V}",
    ),
    ("PATCH", "/api/release/{owner}/{package}/{version}"): (
        "upload",
        f"/api/release/{OWN}/{P}/{V}",
    ),
    ("DELETE", "/api/release/{owner}/{package}/{version}"): (
        "write",
        f"/api/release/{OWN}/{P}/{V}",
    ),
    ("GET", "/api/dist/{owner}/{package}/{version}/{basename}"): (
        "read",
        f"/api/dist/{OWN}/{P}/{V}/{F}",
    ),
    ("DELETE", "/api/dist/{owner}/{package}/{version}/{basename}"): (
        "upload",
        f"/api/dist/{OWN}/{P}/{V}/{F}",
    ),
    ("GET", "/api/download/{owner}/{package}/{version}/{basename}"): (
        "read",
        f"/api/download/{OWN}/{P}/{V}/{F}",
    ),
    ("POST", "/api/stage/{owner}/{package}/{version}/{basename}"): (
        "upload",
        f"/api/stage/{OWN}/{P}/{V}/{F}",
    ),
    ("POST", "/api/stage-upload/{dist_id}"): ("stage", "/api/stage-upload/" + "0" * 32),
    ("POST", "/api/commit/{owner}/{package}/{version}/{basename}"): (
        "upload",
        f"/api/commit/{OWN}/{P}/{V}/{F}",
    ),
    ("GET", "/api/channels/{owner}"): ("read", f"/api/channels/{OWN}"),
    ("GET", "/api/channels/{owner}/{label}"): ("read", f"/api/channels/{OWN}/main"),
    ("DELETE", "/api/channels/{owner}/{label}"): ("write", f"/api/channels/{OWN}/main"),
    ("POST", "/api/channels/{owner}/{label}"): ("write", f"/api/channels/{OWN}/main"),
    ("POST", "/api/channels/{owner}/{label}/copy/{target}"): (
        "write",
        f"/api/channels/{OWN}/main/copy/qa",
    ),
    ("POST", "/api/channels/{owner}/{label}/lock"): ("write", f"/api/channels/{OWN}/main/lock"),
    ("DELETE", "/api/channels/{owner}/{label}/lock"): ("write", f"/api/channels/{OWN}/main/lock"),
    **{
        (m, "/api/copy/package/{owner}/{package}/{version}/"): (
            "write",
            f"/api/copy/package/{OWN}/{P}/{V}/",
        )
        for m in ("POST", "PUT", "PATCH")
    },
    **{
        (m, "/api/copy/package/{owner}/{package}/{version}/{basename}"): (
            "write",
            f"/api/copy/package/{OWN}/{P}/{V}/{F}",
        )
        for m in ("POST", "PUT", "PATCH")
    },
}
# The owner-scoped routes, also under /t/{token} (the path token authenticates them).
for prefix, base in (
    ("/{owner}/label/{label}", f"/{OWN}/label/main"),
    ("/{owner}", f"/{OWN}"),
):
    ROUTES[("GET", prefix + "/simple/")] = ("read", base + "/simple/")
    ROUTES[("GET", prefix + "/simple/{project}/")] = ("read", base + f"/simple/{P}/")
    ROUTES[("GET", prefix + "/files/{sha256}/{filename}")] = ("read", base + f"/files/{SHA}/{F}")
    ROUTES[("POST", prefix + "/")] = ("upload", base + "/")
    ROUTES[("POST", prefix)] = ("upload", base)
ROUTES[("GET", "/{owner}/all-labels/simple/{project}/")] = (
    "read",
    f"/{OWN}/all-labels/simple/{P}/",
)
ROUTES[("GET", "/{owner}/all-labels/files/{sha256}/{filename}")] = (
    "read",
    f"/{OWN}/all-labels/files/{SHA}/{F}",
)

# The web UI (src/wheelyard/web/ui). Rules: public, read (as above: private things answer 404),
# redirect (to the canonical URL), form (the anonymous log-in form: its double-submit CSRF
# token, then a password), session (a logged-in browser; its posts need the session's CSRF
# token), session-write / session-audit (a session of a user who may change / audit the owner).
ROUTES.update(
    {
        ("GET", "/-/search"): ("public", "/-/search?q=pkg"),
        ("GET", "/-/login"): ("public", "/-/login"),
        ("POST", "/-/login"): ("form", "/-/login"),
        ("POST", "/-/logout"): ("session", "/-/logout"),
        ("GET", "/-/tokens"): ("session", "/-/tokens"),
        ("POST", "/-/tokens"): ("session", "/-/tokens"),
        ("GET", "/-/tokens/revoke"): ("session", "/-/tokens/revoke?name=other"),
        ("POST", "/-/tokens/revoke"): ("session", "/-/tokens/revoke"),
        ("GET", "/{owner}"): ("redirect", f"/{OWN}"),
        ("GET", "/{owner}/"): ("read", f"/{OWN}/"),
        ("GET", "/{owner}/-/activity"): ("session-audit", f"/{OWN}/-/activity"),
        ("GET", "/{owner}/package/{package}/"): ("read", f"/{OWN}/package/{P}/"),
        ("GET", "/{owner}/label/{label}/"): ("read", f"/{OWN}/label/main/"),
        ("GET", "/{owner}/label/{label}/-/{action}"): (
            "session-write",
            f"/{OWN}/label/main/-/lock",
        ),
        ("POST", "/{owner}/label/{label}/-/{action}"): (
            "session-write",
            f"/{OWN}/label/main/-/lock",
        ),
    }
)

# The rules whose refusals name a missing scope.
NEEDS_SCOPE = {"upload", "write", "tokens-read", "tokens-write", "audit"}


def _app_routes() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()

    def walk(items: list, prefix: str) -> None:  # type: ignore[type-arg]
        for item in items:
            if isinstance(item, Mount):
                walk(item.routes, prefix + item.path)
            elif isinstance(item, Route):
                path = (prefix + item.path).replace(":path", "").replace(":str", "")
                for method in item.methods or ():
                    if method != "HEAD":
                        found.add((method, path.removeprefix("/t/{token}") or "/"))

    walk(routes(), "")
    return found


def test_every_route_has_a_rule() -> None:
    app = _app_routes()
    missing = sorted(app - set(ROUTES))
    assert not missing, f"routes without an authorization rule in ROUTES: {missing}"
    stale = sorted(set(ROUTES) - app)
    assert not stale, f"rules for routes that no longer exist: {stale}"


@dataclass
class Callers:
    full: str  # alice, every scope
    download: str  # alice, pypi:download only
    upload: str  # alice, pypi:upload only
    other: str  # bob, every scope
    expired: str
    revoked: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Yard]:
    yard = start_yard(tmp_path_factory.mktemp("routes") / "data")
    yield yard
    stop_yard(yard)


@pytest.fixture(scope="module")
def callers(server: Yard, tmp_path_factory: pytest.TempPathFactory) -> Callers:
    every = "all"
    full = server.user(OWN, every)
    server.cli("org", "create", OWN + "org", "--owner", OWN)
    wheel = make_wheel(tmp_path_factory.mktemp("w"), P, V)
    r = httpx.post(
        f"{server.url}/{OWN}/", auth=("__token__", full), files={"content": (F, wheel.read_bytes())}
    )
    assert r.status_code == 200, r.text
    expired = server.cli(
        "token", "create", "--user", OWN, "--name", "old", "--scopes", every, "--max-age", "1"
    ).stdout.strip()
    revoked = server.token(OWN, "gone", every)
    server.cli("token", "revoke", "--user", OWN, "gone")
    server.token(OWN, "other", "api:read")  # the target of the token-revoking routes
    c = Callers(
        full,
        server.token(OWN, "dl", "pypi:download"),
        server.token(OWN, "up", "pypi:upload"),
        server.user("bob", every),
        expired,
        revoked,
    )
    time.sleep(1.5)  # the expired token's max-age
    return c


def _call(server: Yard, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"token {token}"} if token else {}
    return httpx.request(method, server.url + path, headers=headers, json={})


WRITE_RULES = sorted(
    (key, path, rule)
    for key, (rule, path) in ROUTES.items()
    if rule in NEEDS_SCOPE or rule == "token"
)


@pytest.mark.parametrize(("key", "path", "rule"), WRITE_RULES, ids=lambda v: str(v))
def test_refused_before_acting(
    server: Yard, callers: Callers, key: tuple[str, str], path: str, rule: str
) -> None:
    method = key[0]
    before = httpx.get(f"{server.url}/{OWN}/simple/{P}/").text
    for token in (None, callers.expired, callers.revoked, "wy_not-a-token"):
        got = _call(server, method, path, token)
        assert got.status_code == 401, (token, got.text)
        assert got.headers.get("www-authenticate", "").startswith("Basic")
    if rule in NEEDS_SCOPE:
        # Under-scoped: alice's download-only token, and upload-only where writing is needed.
        weak = [callers.download] + ([callers.upload] if rule != "upload" else [])
        for token in weak:
            got = _call(server, method, path, token)
            assert got.status_code == 403, got.text
            assert "lacks scope" in got.json()["error"]
        if rule != "tokens-read" and "/authentications" not in path:
            got = _call(server, method, path, callers.other)  # bob writes to alice: never
            assert got.status_code == 403, got.text
            assert "bob" in got.json()["error"]
    assert httpx.get(f"{server.url}/{OWN}/simple/{P}/").text == before  # nothing changed


def test_stage_secret_and_public_routes(server: Yard, callers: Callers) -> None:
    bogus = httpx.post(
        f"{server.url}/api/stage-upload/{'0' * 32}",
        files={"signature": (None, "x"), "file": (F, b"x")},
    )
    assert bogus.status_code == 404 and b"<Error>" in bogus.content
    for (method, _template), (rule, path) in ROUTES.items():
        if rule in ("public", "read") and method == "GET":
            got = httpx.get(server.url + path)
            assert got.status_code in (200, 404), (path, got.status_code)
            assert got.status_code < 500


SESSION_RULES = sorted(
    (key, path, rule)
    for key, (rule, path) in ROUTES.items()
    if rule.startswith("session") or rule == "form"
)


def _browser_login(server: Yard, user: str) -> httpx.Client:
    """A client holding a logged-in session cookie of ``user`` (the shared test password)."""
    client = httpx.Client(base_url=server.url)
    form = client.get("/-/login")
    token = form.text.split('name="csrf" value="')[1].split('"')[0]
    done = client.post("/-/login", data={"csrf": token, "name": user, "password": PASSWORD})
    assert done.status_code == 303, done.text
    return client


@pytest.mark.parametrize(("key", "path", "rule"), SESSION_RULES, ids=lambda v: str(v))
def test_ui_refuses_anonymous_and_forged_posts(
    server: Yard, callers: Callers, key: tuple[str, str], path: str, rule: str
) -> None:
    method = key[0]
    before = httpx.get(f"{server.url}/{OWN}/simple/{P}/").text
    # A token is no session: the UI ignores Authorization, so a full token is anonymous here.
    anonymous = httpx.request(
        method, server.url + path, headers={"Authorization": f"token {callers.full}"}
    )
    if method == "POST":
        assert anonymous.status_code == 403, anonymous.text  # no CSRF token: refused first
    elif rule != "form":
        assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["content-type"].startswith("text/html")
    if method == "POST":
        with closing(_browser_login(server, OWN)) as alice:
            forged = alice.post(path, data={"name": "other", "target": "qa"})
            assert forged.status_code == 403, forged.text
            assert "did not come from this site" in forged.text
    if rule == "session-write" or rule == "session-audit":
        with closing(_browser_login(server, "bob")) as bob:
            assert bob.get(path).status_code == 403
    # Nothing changed: the index, the label's lock, the tokens (download counts may move).
    assert httpx.get(f"{server.url}/{OWN}/simple/{P}/").text == before
    assert "badge locked" not in httpx.get(f"{server.url}/{OWN}/label/main/").text
    tokens = httpx.get(
        f"{server.url}/api/authentications", headers={"Authorization": f"token {callers.full}"}
    )
    assert "forged" not in tokens.text and '"other"' in tokens.text, tokens.text
