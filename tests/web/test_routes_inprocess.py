"""The HTTP surfaces of the real application, driven in-process with Starlette's TestClient:
the simple index (negotiation, 406, name redirects, ETags), legacy uploads, ranged downloads,
private labels and the /api JSON shapes.

No server process and no external client: the app is ``create_app`` over a fresh SQLite yard
with its lifespan running, and accounts are made with the ``wheelyard`` CLI's own entry point,
in this process. The same behaviours against a real server and real clients are in tests/e2e.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from packaging.utils import canonicalize_name

from wheelyard.cli.main import main as wheelyard
from wheelyard.config import Settings
from wheelyard.testing import make_sdist, make_wheel
from wheelyard.web.app import create_app

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 under its TestClient; httpx is what the project uses.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

JSON_V1 = "application/vnd.pypi.simple.v1+json"
JSON = {"Accept": JSON_V1}
OWNER = "alice"


@dataclass
class Site:
    client: TestClient
    data: Path
    dists: Path
    token: str  # alice: every scope
    reader: str  # alice: pypi:download only
    uploader: str  # alice: pypi:upload only
    wheel: Path  # Some.Thing 1.0 on main
    sdist: Path  # Some.Thing 1.0 on main
    hidden: Path  # secret-pkg 1.0, only on the private label "internal"

    def cli(self, *args: str, stdin: str = "") -> str:
        """Run a ``wheelyard`` command in-process; its stdout, or a failure with its exit code."""
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
            mp.setattr("sys.stdin", io.StringIO(stdin))
            status = wheelyard(["--data-dir", str(self.data), *args])
        assert status == 0, (args, status)
        return out.getvalue()

    def upload(self, path: str, dist: Path, token: str | None = None) -> httpx.Response:
        return self.client.post(
            path,
            auth=("__token__", token or self.token),
            files={"content": (dist.name, dist.read_bytes())},
            data={":action": "file_upload"},
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("inprocess") / "data"
    dists = tmp_path_factory.mktemp("dists")
    env = {"WHEELYARD_DATA_DIR": str(data), "WHEELYARD_REMOVAL_DELAY": "3600"}
    app = create_app(Settings.from_env(env))
    with TestClient(app) as client:  # the lifespan (housekeeping loop) runs
        s = Site(client, data, dists, "", "", "", Path(), Path(), Path())
        s.cli("user", "create", OWNER, "--password-stdin", stdin="correct horse battery\n")
        scopes = "api:read api:write pypi:upload pypi:download"
        s.token = s.cli("token", "create", "--user", OWNER, "--name", "all", "--scopes", scopes)
        s.token = s.token.strip()
        read = ("token", "create", "--user", OWNER, "--name", "ro", "--scopes", "pypi:download")
        s.reader = s.cli(*read).strip()
        up = ("token", "create", "--user", OWNER, "--name", "up", "--scopes", "pypi:upload")
        s.uploader = s.cli(*up).strip()
        s.wheel = make_wheel(dists, "Some.Thing", "1.0", requires_python=">=3.9")
        s.sdist = make_sdist(dists, "some-thing", "1.0")
        s.hidden = make_wheel(dists, "secret_pkg", "1.0")
        for path, dist in ((f"/{OWNER}/", s.wheel), (f"/{OWNER}/", s.sdist)):
            assert s.upload(path, dist).status_code == 200
        assert s.upload(f"/{OWNER}/label/internal/", s.hidden).status_code == 200
        s.cli("label", "private", OWNER, "internal")
        yield s


# --- the simple index --------------------------------------------------------------------------


def test_html_by_default_and_json_when_asked(site: Site) -> None:
    html = site.client.get(f"/{OWNER}/simple/some-thing/")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert site.wheel.name in html.text and 'data-requires-python="&gt;=3.9"' in html.text
    assert html.headers["vary"] == "Accept, Authorization"

    page = site.client.get(f"/{OWNER}/simple/some-thing/", headers=JSON)
    assert page.headers["content-type"].startswith(JSON_V1)
    body = page.json()
    assert body["meta"]["api-version"] == "1.1"
    assert body["name"] == "some-thing"  # PEP 691: the normalized name
    assert body["versions"] == ["1.0"]
    assert sorted(f["filename"] for f in body["files"]) == sorted(
        [site.wheel.name, site.sdist.name]
    )
    by_query = site.client.get(f"/{OWNER}/simple/some-thing/", params={"format": JSON_V1})
    assert by_query.json() == body

    root = site.client.get(f"/{OWNER}/simple/", headers=JSON).json()
    listed = {canonicalize_name(p["name"]) for p in root["projects"]}
    # The private label's project is not listed on main.
    assert "some-thing" in listed and "secret-pkg" not in listed


def test_unacceptable_media_type_is_406_with_a_json_error(site: Site) -> None:
    refused = site.client.get(
        f"/{OWNER}/simple/some-thing/", headers={"Accept": "application/x-nothing"}
    )
    assert refused.status_code == 406
    assert JSON_V1 in refused.json()["error"]


@pytest.mark.parametrize(
    ("asked", "canonical"),
    [
        (f"/{OWNER}/simple/Some.Thing/", f"/{OWNER}/simple/some-thing/"),
        (f"/{OWNER}/simple/some_thing/", f"/{OWNER}/simple/some-thing/"),
        (f"/{OWNER}/label/dev/simple/SOME-thing/", f"/{OWNER}/label/dev/simple/some-thing/"),
        (f"/t/TOKEN/{OWNER}/simple/Some__Thing/", f"/t/TOKEN/{OWNER}/simple/some-thing/"),
    ],
)
def test_non_normalised_names_redirect_permanently(site: Site, asked: str, canonical: str) -> None:
    moved = site.client.get(asked, follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"].endswith(canonical)


def test_unknown_project_and_owner_are_404(site: Site) -> None:
    assert site.client.get(f"/{OWNER}/simple/nothing-here/").status_code == 404
    missing = site.client.get("/nobody-at-all/simple/")
    assert missing.status_code == 404 and "error" in missing.json()


def test_etag_gives_304_until_the_label_changes(site: Site) -> None:
    url = f"/{OWNER}/label/etags/simple/"
    wheel = make_wheel(site.dists, "etagged", "1.0")
    assert site.upload(f"/{OWNER}/label/etags/", wheel).status_code == 200
    first = site.client.get(url)
    etag = first.headers["etag"]
    again = site.client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    # JSON and HTML are different representations: different tags.
    assert site.client.get(url, headers=JSON).headers["etag"] != etag

    newer = make_wheel(site.dists, "etagged-two", "1.0")
    assert site.upload(f"/{OWNER}/label/etags/", newer).status_code == 200
    changed = site.client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "etagged-two" in changed.text
    assert changed.headers["etag"] != etag


# --- uploads (the legacy API twine speaks) ------------------------------------------------------


def test_legacy_upload_outcomes(site: Site) -> None:
    wheel = make_wheel(site.dists, "uploaded", "1.0")
    created = site.upload(f"/{OWNER}/label/a/", wheel)
    assert created.status_code == 200
    assert created.json() == {
        "ok": True,
        "filename": wheel.name,
        "outcome": "created",
        "labels_added": ["a"],
    }
    # The same bytes again, to another label: nothing stored, the label added.
    same = site.upload(f"/{OWNER}/label/b", wheel).json()
    assert same["outcome"] == "existing" and same["labels_added"] == ["b"]
    # Other bytes under the same file name: a conflict, nothing replaced.
    (site.dists / "other").mkdir()
    other = make_wheel(site.dists / "other", "uploaded", "1.0", padding=100)
    assert other.name == wheel.name
    conflict = site.upload(f"/{OWNER}/label/a/", other)
    assert conflict.status_code == 409 and "error" in conflict.json()
    got = site.client.get(f"/{OWNER}/label/a/simple/uploaded/", headers=JSON).json()
    assert got["files"][0]["hashes"]["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_upload_refusals(site: Site) -> None:
    wheel = make_wheel(site.dists, "refused", "1.0")
    files = {"content": (wheel.name, wheel.read_bytes())}
    anonymous = site.client.post(f"/{OWNER}/", files=files)
    assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous.headers
    weak = site.client.post(f"/{OWNER}/", files=files, auth=("__token__", site.reader))
    assert weak.status_code == 403 and "pypi:upload" in weak.json()["error"]
    bad = site.dists / "broken-1.0-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    broken = site.upload(f"/{OWNER}/", bad)
    assert broken.status_code == 400 and "not a zip" in broken.json()["error"]
    assert site.client.get(f"/{OWNER}/simple/refused/").status_code == 404


# --- downloads ---------------------------------------------------------------------------------


def _file_url(site: Site, filename: str) -> str:
    page = site.client.get(f"/{OWNER}/simple/some-thing/", headers=JSON).json()
    entry = next(f for f in page["files"] if f["filename"] == filename)
    return str(site.client.base_url.join(f"/{OWNER}/simple/some-thing/").join(entry["url"]))


def test_download_whole_ranged_and_metadata(site: Site) -> None:
    content = site.wheel.read_bytes()
    url = _file_url(site, site.wheel.name)
    whole = site.client.get(url)
    assert whole.status_code == 200 and whole.content == content
    assert whole.headers["accept-ranges"] == "bytes"
    part = site.client.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == content[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{len(content)}"
    tail = site.client.get(url, headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == content[-5:]
    beyond = site.client.get(url, headers={"Range": f"bytes={len(content) + 10}-"})
    assert beyond.status_code == 416
    head = site.client.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(content)

    entry = site.client.get(f"/{OWNER}/simple/some-thing/", headers=JSON).json()["files"]
    wheel_entry = next(f for f in entry if f["filename"] == site.wheel.name)
    meta = site.client.get(url + ".metadata")
    assert hashlib.sha256(meta.content).hexdigest() == wheel_entry["core-metadata"]["sha256"]
    assert b"Name: Some.Thing" in meta.content


def test_download_of_a_wrong_digest_is_404(site: Site) -> None:
    wrong = f"/{OWNER}/files/{'0' * 64}/{site.wheel.name}"
    assert site.client.get(wrong).status_code == 404


# --- private labels -----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["basic", "token header", "token in path"])
def test_private_label_is_404_anonymously_and_200_with_a_token(site: Site, how: str) -> None:
    path = f"/{OWNER}/label/internal/simple/secret-pkg/"
    assert site.client.get(path).status_code == 404
    if how == "basic":
        page = site.client.get(path, auth=("__token__", site.reader))
    elif how == "token header":
        page = site.client.get(path, headers={"Authorization": f"token {site.reader}"})
    else:
        page = site.client.get(f"/t/{site.reader}{path}")
    assert page.status_code == 200 and site.hidden.name in page.text
    assert page.headers["cache-control"].startswith("private")


def test_private_label_refuses_bad_and_underscoped_tokens(site: Site) -> None:
    path = f"/{OWNER}/label/internal/simple/secret-pkg/"
    wrong = site.client.get(path, auth=("__token__", "wy_wrong"))
    assert wrong.status_code == 401 and "WWW-Authenticate" in wrong.headers
    lacking = site.client.get(path, auth=("__token__", site.uploader))
    assert lacking.status_code == 403 and "pypi:download" in lacking.json()["error"]
    page = site.client.get(path, auth=("__token__", site.reader)).text
    href = page.split('href="', 1)[1].split('"', 1)[0].split("#", 1)[0]
    blob = str(site.client.base_url.join(path).join(href))
    assert site.client.get(blob).status_code == 404
    assert (
        site.client.get(blob, auth=("__token__", site.reader)).content == site.hidden.read_bytes()
    )


# --- the Anaconda-compatible /api ---------------------------------------------------------------


def test_api_package_release_and_dist_shapes(site: Site) -> None:
    package = site.client.get(f"/api/package/{OWNER}/some-thing")
    assert package.status_code == 200
    body = package.json()
    assert body["name"] == "Some.Thing" and body["normalized_name"] == "some-thing"
    assert body["full_name"] == f"{OWNER}/some-thing" and body["owner"] == {"login": OWNER}
    assert body["public"] is True and body["package_types"] == ["pypi"]
    assert body["versions"] == ["1.0"] and body["latest_version"] == "1.0"
    assert body["releases"] == [{"version": "1.0", "full_name": f"{OWNER}/some-thing/1.0"}]
    assert sorted(f["basename"] for f in body["files"]) == sorted(
        [site.wheel.name, site.sdist.name]
    )

    release = site.client.get(f"/api/release/{OWNER}/some-thing/1.0").json()
    assert release["version"] == "1.0" and release["full_name"] == f"{OWNER}/some-thing/1.0"
    assert sorted(d["basename"] for d in release["distributions"]) == sorted(
        f["basename"] for f in body["files"]
    )

    dist = site.client.get(f"/api/dist/{OWNER}/some-thing/1.0/{site.wheel.name}").json()
    assert dist["basename"] == site.wheel.name and dist["owner"] == OWNER
    assert dist["version"] == "1.0" and dist["labels"] == ["main"]
    assert dist["size"] == site.wheel.stat().st_size
    assert dist["sha256"] == hashlib.sha256(site.wheel.read_bytes()).hexdigest()
    assert dist["full_name"] == f"{OWNER}/some-thing/1.0/{site.wheel.name}"
    download = site.client.get("/api" + dist["download_url"])
    assert download.status_code == 200 and download.content == site.wheel.read_bytes()


def test_api_hides_what_the_reader_may_not_see(site: Site) -> None:
    missing = site.client.get(f"/api/package/{OWNER}/no-such-package")
    assert missing.status_code == 404 and "error" in missing.json()
    # A package held only by a private label does not exist for an anonymous reader.
    assert site.client.get(f"/api/package/{OWNER}/secret-pkg").status_code == 404
    auth = {"Authorization": f"token {site.token}"}
    seen = site.client.get(f"/api/package/{OWNER}/secret-pkg", headers=auth)
    assert seen.status_code == 200
    assert [f["labels"] for f in seen.json()["files"]] == [["internal"]]
