"""The web UI in-process (Starlette's TestClient over the real app and a fresh SQLite yard):
every page is strict, valid HTML with a script-free content-security policy; private owners,
labels and packages stay invisible exactly as in the simple index; forms need their CSRF token;
a ``<script>`` in a description is inert; log-in is throttled; tokens are shown once; label
actions need a confirmation and a writer; downloads are counted."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import html5lib
import pytest

from tests.helpers import yard_of
from wheelyard.cli.main import main as wheelyard
from wheelyard.config import Settings
from wheelyard.testing import make_wheel
from wheelyard.web.app import create_app
from wheelyard.web.housekeeping import flush_downloads

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # Starlette 1.x asks for httpx2
    from starlette.testclient import TestClient

PASSWORD = "correct horse battery"
EVIL = (
    "<script>alert(1)</script>\n\n[click me](javascript:alert(2))\n\n<img src=x onerror=alert(3)>"
)
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@dataclass
class Site:
    app: object
    data: Path
    token: str  # alice, every scope

    def cli(self, *args: str, stdin: str = "") -> str:
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
            mp.setattr("sys.stdin", io.StringIO(stdin))
            status = wheelyard(["--data-dir", str(self.data), *args])
        assert status == 0, (args, status)
        return out.getvalue()

    def client(self, user: str | None = None, https: bool = False) -> TestClient:
        """A browser: anonymous, or logged in as ``user`` through the log-in form."""
        base = "https://testserver" if https else "http://testserver"
        client = TestClient(self.app, base_url=base, follow_redirects=False)  # type: ignore[arg-type]
        if user is not None:
            done = login(client, user, PASSWORD)
            assert done.status_code == 303, done.text
        return client


def form_token(html: str) -> str:
    return html.split('name="csrf" value="')[1].split('"')[0]


def login(client: TestClient, user: str, password: str):  # type: ignore[no-untyped-def]
    token = form_token(client.get("/-/login").text)
    return client.post("/-/login", data={"csrf": token, "name": user, "password": password})


def valid_html(text: str) -> None:
    """A strict HTML5 parse: any parse error (bad nesting, stray tags, no doctype) fails."""
    html5lib.HTMLParser(strict=True).parse(text)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("ui") / "data"
    dists = tmp_path_factory.mktemp("dists")
    env = {
        "WHEELYARD_DATA_DIR": str(data),
        "WHEELYARD_REMOVAL_DELAY": "3600",
        "WHEELYARD_AUTH_FAILURES_PER_USER": "3",
        "WHEELYARD_AUTH_FAILURES_PER_CLIENT": "1000",
    }
    app = create_app(Settings.from_env(env))
    with TestClient(app):  # the lifespan runs
        s = Site(app, data, "")
        for user in ("alice", "bob", "carol"):
            s.cli("user", "create", user, "--password-stdin", stdin=PASSWORD + "\n")
        s.token = s.cli(
            "token", "create", "--user", "alice", "--name", "all", "--scopes", "all"
        ).strip()
        s.cli("user", "create", "hidden", "--password-stdin", stdin=PASSWORD + "\n")
        s.cli("owner", "private", "hidden")
        api = TestClient(app)
        auth = {"Authorization": f"token {s.token}"}

        def up(path: str, wheel: Path) -> None:
            r = api.post(
                path,
                headers=auth,
                files={"content": (wheel.name, wheel.read_bytes())},
                data={":action": "file_upload"},
            )
            assert r.status_code == 200, r.text

        up("/alice/", make_wheel(dists, "Some.Thing", "1.0", summary="A useful thing"))
        up(
            "/alice/",
            make_wheel(
                dists,
                "Some.Thing",
                "1.1",
                summary="A useful thing",
                requires_python=">=3.9",
                requires=["packaging>=24"],
                description="# Some Thing\n\nIt is **useful**.\n\n" + EVIL,
            ),
        )
        up("/alice/", make_wheel(dists, "thing-helper", "0.1", summary="Helps Some.Thing"))
        up("/alice/label/internal/", make_wheel(dists, "secret-pkg", "1.0", summary="thing inside"))
        s.cli("label", "private", "alice", "internal")
        made = api.post("/api/package/alice/hushhush", headers=auth, json={"public": False})
        assert made.status_code == 200, made.text
        up("/alice/", make_wheel(dists, "hushhush", "1.0", summary="a private thing"))
        yield s


PAGES = [
    "/",
    "/-/search?q=thing",
    "/-/login",
    "/alice/",
    "/alice/package/some-thing/",
    "/alice/label/main/",
    "/nobody/",
    "/alice/package/nope/",
]
SESSION_PAGES = [
    *PAGES,
    "/-/tokens",
    "/alice/-/activity",
    "/alice/label/main/-/lock",
    "/alice/label/main/-/copy",
    "/alice/label/main/-/remove",
    "/-/tokens/revoke?name=all",
    "/alice/label/internal/",
    "/alice/package/hushhush/",
]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_pages_are_valid_html_without_script(site: Site, path: str) -> None:
    got = site.client().get(path)
    assert got.status_code in (200, 404), got.text
    assert got.headers["content-type"].startswith("text/html")
    csp = got.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe" not in csp
    assert "<script" not in got.text
    valid_html(got.text)


@pytest.mark.parametrize("path", SESSION_PAGES)
def test_logged_in_pages_are_valid_html(site: Site, path: str) -> None:
    got = site.client("alice").get(path)
    assert got.status_code in (200, 404), got.text
    assert got.headers["cache-control"] == "private, no-store"
    valid_html(got.text)


def test_package_page_shows_versions_files_and_install(site: Site) -> None:
    page = site.client().get("/alice/package/some-thing/").text
    for shown in (
        "Some.Thing",
        "A useful thing",
        "some_thing-1.1-py3-none-any.whl",
        "some_thing-1.0-py3-none-any.whl",
        "&gt;=3.9",  # requires-python
        "packaging&gt;=24",  # a dependency from the metadata
        "pip install --index-url http://testserver/alice/simple/ some-thing",
        "uv pip install --index-url http://testserver/alice/simple/ some-thing",
        "--extra-index-url http://testserver/alice/simple/",
        "<strong>useful</strong>",  # the markdown description, rendered
        "alice",  # the uploader
    ):
        assert shown in page, shown
    assert "machine testserver" not in page  # a public label needs no .netrc


def test_package_page_shows_policy_and_grafted_libraries(site: Site, tmp_path: Path) -> None:
    token = site.cli("token", "create", "--user", "carol", "--name", "up", "--scopes", "all")
    tag = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"
    libs = {"grafty.libs/libz-a1b2c3d4.so.1.2.13": b"\x7fELF"}
    built = make_wheel(tmp_path, "grafty", "1.0", tag=tag, extra=libs)
    pure = make_wheel(tmp_path, "grafty", "1.0")
    api = TestClient(site.app)  # type: ignore[arg-type]
    for wheel in (built, pure):
        r = api.post(
            "/carol/",
            headers={"Authorization": f"token {token.strip()}"},
            files={"content": (wheel.name, wheel.read_bytes())},
            data={":action": "file_upload"},
        )
        assert r.status_code == 200, r.text
    page = site.client().get("/carol/package/grafty/").text
    valid_html(page)
    rows = {
        row.split('<td class="name">')[1].split("<")[0]: row
        for row in page.split("<tr>")
        if '<td class="name">' in row
    }
    cells = rows[built.name]
    assert '<td class="policy">manylinux2014_x86_64, manylinux_2_17_x86_64</td>' in cells
    assert "<li>libz-a1b2c3d4.so.1.2.13</li>" in cells
    assert '<td class="policy"></td>' in rows[pure.name]
    release = api.get("/api/release/carol/grafty/1.0").json()
    attrs = {f["basename"]: f["attrs"] for f in release["distributions"]}
    assert attrs[built.name]["manylinux_policy"] == [
        "manylinux2014_x86_64",
        "manylinux_2_17_x86_64",
    ]
    assert attrs[built.name]["grafted_libraries"] == ["libz-a1b2c3d4.so.1.2.13"]
    assert '<td class="grafted"></td>' in rows[pure.name]


def test_script_and_javascript_links_in_a_description_are_inert(site: Site) -> None:
    page = site.client().get("/alice/package/some-thing/").text
    description = page.split('<div class="description">')[1].split("</div>")[0]
    assert "<script" not in description and "javascript:" not in description
    assert "onerror" not in description or "&lt;img" in description
    assert "click me" in description  # the link text stays, its target does not


def test_private_things_are_invisible_to_anonymous_and_other_users(site: Site) -> None:
    for who in (None, "bob"):
        browser = site.client(who)
        owner = browser.get("/alice/").text
        assert "some-thing" in owner.lower()
        assert "secret-pkg" not in owner and "internal" not in owner and "hushhush" not in owner
        for hidden in (
            "/alice/package/secret-pkg/",
            "/alice/package/hushhush/",
            "/alice/label/internal/",
            "/hidden/",
        ):
            missing = browser.get(hidden)
            assert missing.status_code == 404, (who, hidden)
            assert missing.headers["content-type"].startswith("text/html")
        # Answers exactly like something that does not exist.
        assert browser.get("/hidden/").text.replace("hidden", "X") == browser.get(
            "/nobody/"
        ).text.replace("nobody", "X")
        found = browser.get("/-/search?q=thing").text
        assert "thing-helper" in found
        assert "secret-pkg" not in found and "hushhush" not in found
        assert "/hidden/" not in browser.get("/").text
    alice = site.client("alice")
    assert "secret-pkg" in alice.get("/alice/").text and "hushhush" in alice.get("/alice/").text
    assert "secret-pkg" in alice.get("/-/search?q=thing").text
    assert alice.get("/alice/package/secret-pkg/").status_code == 200
    netrc = alice.get("/alice/label/internal/").text
    assert "machine testserver\nlogin __token__\npassword YOUR-TOKEN" in netrc


def test_search_ranks_the_exact_name_first(site: Site) -> None:
    page = site.client().get("/-/search?q=Some.Thing").text
    first = page.index("/alice/package/some-thing/")
    assert first < page.index("/alice/package/thing-helper/")  # a summary-only match
    assert "exact name" in page


def test_session_cookie_flags(site: Site) -> None:
    plain = site.client()
    done = login(plain, "alice", PASSWORD)
    cookie = done.headers["set-cookie"]
    assert "wy_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie
    tls = site.client(https=True)
    done = login(tls, "alice", PASSWORD)
    assert "Secure" in done.headers["set-cookie"]


def test_forged_posts_without_the_csrf_token_are_refused(site: Site) -> None:
    alice = site.client("alice")
    before = alice.get("/-/tokens").text
    forged = alice.post("/-/tokens", data={"name": "forged", "scope": "all", "expiry": "1 day"})
    assert forged.status_code == 403 and forged.headers["content-type"].startswith("text/html")
    wrong = alice.post("/-/tokens", data={"csrf": "x" * 43, "name": "forged", "scope": "all"})
    assert wrong.status_code == 403
    lock = alice.post("/alice/label/main/-/lock", data={})
    assert lock.status_code == 403
    assert alice.get("/-/tokens").text == before
    assert "badge locked" not in alice.get("/alice/label/main/").text
    anonymous = site.client().post("/-/login", data={"name": "alice", "password": PASSWORD})
    assert anonymous.status_code == 403  # the log-in form has its token too


def test_wrong_passwords_are_throttled_with_a_clear_message(site: Site) -> None:
    browser = site.client()
    for attempt in range(3):
        bad = login(browser, "carol", f"wrong password {attempt}")
        assert bad.status_code == 401 and "invalid user name or password" in bad.text
    blocked = login(browser, "carol", PASSWORD)  # even the right one, while blocked
    assert blocked.status_code == 429
    assert "too many failed logins for this user" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0
    valid_html(blocked.text)


def test_token_is_shown_once_then_listed_and_revoked(site: Site) -> None:
    alice = site.client("alice")
    page = alice.get("/-/tokens").text
    made = alice.post(
        "/-/tokens",
        data={
            "csrf": form_token(page),
            "name": "ci",
            "scope": ["pypi:download", "pypi:upload"],
            "expiry": "30 days",
        },
    )
    assert made.status_code == 201, made.text
    valid_html(made.text)
    secret = made.text.split('id="new-token" class="secret" readonly value="')[1].split('"')[0]
    assert secret.startswith("wy_")
    # The token works, against the simple index, and is never shown again.
    api = TestClient(site.app)  # type: ignore[arg-type]
    assert (
        api.get("/alice/simple/", headers={"Authorization": f"token {secret}"}).status_code == 200
    )
    listing = alice.get("/-/tokens").text
    assert "ci" in listing and secret not in listing and "pypi:download pypi:upload" in listing
    confirm = alice.get("/-/tokens/revoke?name=ci")
    assert confirm.status_code == 200 and "Revoke token" in confirm.text
    gone = alice.post("/-/tokens/revoke", data={"csrf": form_token(confirm.text), "name": "ci"})
    assert gone.status_code == 303
    assert (
        api.get("/alice/simple/", headers={"Authorization": f"token {secret}"}).status_code == 401
    )


def test_label_actions_need_confirmation_and_a_writer(site: Site) -> None:
    alice = site.client("alice")
    confirm = alice.get("/alice/label/main/-/copy")
    assert confirm.status_code == 200 and "Target label" in confirm.text
    copied = alice.post(
        "/alice/label/main/-/copy", data={"csrf": form_token(confirm.text), "target": "qa"}
    )
    assert copied.status_code == 303 and copied.headers["location"] == "/alice/label/qa/?done=copy"
    qa = alice.get(copied.headers["location"]).text
    assert "some_thing-1.1-py3-none-any.whl" in qa
    assert "Copied: the files" in qa
    token = form_token(alice.get("/alice/label/qa/-/lock").text)
    assert alice.post("/alice/label/qa/-/lock", data={"csrf": token}).status_code == 303
    assert "badge locked" in alice.get("/alice/label/qa/").text
    refused = alice.post("/alice/label/qa/-/remove", data={"csrf": token})
    assert refused.status_code == 423 and "locked" in refused.text
    alice.post("/alice/label/qa/-/unlock", data={"csrf": token})
    removed = alice.post("/alice/label/qa/-/remove", data={"csrf": token})
    assert removed.status_code == 303
    assert alice.get("/alice/label/qa/").status_code == 404
    bob = site.client("bob")
    assert bob.get("/alice/label/main/-/lock").status_code == 403
    bob_token = form_token(bob.get("/").text)
    assert bob.post("/alice/label/main/-/lock", data={"csrf": bob_token}).status_code == 403
    assert "Lock…" not in bob.get("/alice/label/main/").text  # no actions offered
    activity = alice.get("/alice/-/activity").text
    assert "label-copy" in activity and "main -&gt; qa" in activity and "label-remove" in activity
    assert bob.get("/alice/-/activity").status_code == 403
    assert site.client().get("/alice/-/activity").status_code == 401
    assert site.client().get("/hidden/-/activity").status_code == 404


def test_logout_ends_the_session(site: Site) -> None:
    alice = site.client("alice")
    token = form_token(alice.get("/").text)
    assert alice.post("/-/logout", data={"csrf": token}).status_code == 303
    assert alice.get("/-/tokens").status_code == 401


def test_browsers_get_html_errors_and_clients_json(site: Site) -> None:
    browser = site.client().get("/api/nothing/here", headers=BROWSER)
    assert browser.status_code == 404 and browser.headers["content-type"].startswith("text/html")
    valid_html(browser.text)
    client = site.client().get("/api/nothing/here")
    assert client.status_code == 404 and client.json()["error"]


def test_downloads_are_counted_and_shown(site: Site) -> None:
    api = TestClient(site.app)  # type: ignore[arg-type]
    files = api.get(
        "/alice/simple/thing-helper/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    ).json()["files"]
    url = "/alice/simple/thing-helper/" + files[0]["url"]
    for _ in range(3):
        assert api.get(url).status_code == 200
    flush_downloads(yard_of(site.app))
    package = site.client().get("/alice/package/thing-helper/").text
    assert "<td>3</td>" in package
    described = api.get("/api/package/alice/thing-helper").json()
    assert described["files"][0]["ndownloads"] == 3
    owner = site.client().get("/alice/").text
    assert "<td>3</td>" in owner  # the label's count


def test_anonymous_pages_follow_every_change(site: Site, tmp_path: Path) -> None:
    """Anonymous pages are kept in memory, but only while nothing was committed."""
    anonymous = site.client()
    first = anonymous.get("/alice/").text
    assert anonymous.get("/alice/").text == first  # the same page again
    wheel = make_wheel(tmp_path, "fresh-arrival", "1.0")
    api = TestClient(site.app)  # type: ignore[arg-type]
    sent = api.post(
        "/alice/",
        headers={"Authorization": f"token {site.token}"},
        files={"content": (wheel.name, wheel.read_bytes())},
        data={":action": "file_upload"},
    )
    assert sent.status_code == 200
    assert "fresh-arrival" in anonymous.get("/alice/").text
    site.cli("label", "private", "alice", "main")
    try:
        assert "fresh-arrival" not in anonymous.get("/alice/").text
        assert anonymous.get("/alice/package/fresh-arrival/").status_code == 404
    finally:
        site.cli("label", "public", "alice", "main")
