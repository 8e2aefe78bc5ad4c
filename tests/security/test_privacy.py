"""Privacy per surface and existence hiding: what an anonymous reader, another user, and an
under-scoped member see of private owners, labels and packages, through every read surface
(simple index, all-labels view, downloads, the Anaconda API) and through copies."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import JSON, Yard, upload
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e


@dataclass
class World:
    owner: str
    token: str
    other: str  # another user's full token
    public: Path  # on main (public)
    secret: Path  # only on the private label "internal"
    both: Path  # on main and on "internal"
    hidden: Path  # a private package, on main


@pytest.fixture
def world(yard: Yard, owner_name: str, tmp_path: Path) -> World:
    token = yard.user(owner_name)
    other = yard.user(owner_name + "x")
    w = World(
        owner_name,
        token,
        other,
        make_wheel(tmp_path, "openpkg", "1.0"),
        make_wheel(tmp_path, "secretpkg", "1.0"),
        make_wheel(tmp_path, "bothpkg", "1.0"),
        make_wheel(tmp_path, "hiddenpkg", "1.0"),
    )
    yard.cli("label", "private", owner_name, "internal")
    upload(yard, f"{owner_name}/", token, w.public)
    upload(yard, f"{owner_name}/label/internal/", token, w.secret)
    upload(yard, f"{owner_name}/", token, w.both)
    upload(yard, f"{owner_name}/label/internal/", token, w.both)
    made = httpx.post(
        f"{yard.url}/api/package/{owner_name}/hiddenpkg",
        headers={"Authorization": f"token {token}"},
        json={"public": False},
    )
    assert made.status_code == 200, made.text
    upload(yard, f"{owner_name}/", token, w.hidden)
    return w


def _api(yard: Yard, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"token {token}"} if token else {}
    return httpx.get(f"{yard.url}/api/{path}", headers=headers)


def _same_as_missing(private: httpx.Response, missing: httpx.Response, swap: tuple[str, str]):
    """Identical status and message, once the asked-for names are swapped."""
    assert private.status_code == missing.status_code, (private.text, missing.text)
    assert private.text.replace(swap[0], swap[1]) == missing.text


def test_api_reads_hide_private_labels_and_packages(yard: Yard, world: World) -> None:
    o = world.owner
    for who in (None, world.other):
        names = {p["normalized_name"] for p in _api(yard, f"packages/{o}", who).json()}
        assert names == {"openpkg", "bothpkg"}
        for path in (
            f"package/{o}/secretpkg",
            f"release/{o}/secretpkg/1.0",
            f"dist/{o}/secretpkg/1.0/{world.secret.name}",
            f"download/{o}/secretpkg/1.0/{world.secret.name}",
            f"package/{o}/hiddenpkg",
            f"release/{o}/hiddenpkg/1.0",
            f"dist/{o}/hiddenpkg/1.0/{world.hidden.name}",
            f"download/{o}/hiddenpkg/1.0/{world.hidden.name}",
        ):
            missing = _api(yard, path.replace("secretpkg", "nopkg").replace("hiddenpkg", "nopkg"))
            got = _api(yard, path, who)
            name = "secretpkg" if "secretpkg" in path else "hiddenpkg"
            assert got.status_code == 404, path
            _same_as_missing(got, missing, (name, "nopkg"))
        both = _api(yard, f"package/{o}/bothpkg", who).json()
        assert [f["labels"] for f in both["files"]] == [["main"]]
        labels = _api(yard, f"channels/{o}", who).json()
        assert set(labels) == {"main"} and labels["main"]["num_files"] == 2
        main = _api(yard, f"channels/{o}/main", who).json()
        assert sorted(f["basename"] for f in main["files"]) == [world.both.name, world.public.name]
        hidden_label = _api(yard, f"channels/{o}/internal", who)
        _same_as_missing(hidden_label, _api(yard, f"channels/{o}/nolabel"), ("internal", "nolabel"))
    # The owner with a read scope sees everything, and the label names of every file.
    full = {p["normalized_name"] for p in _api(yard, f"packages/{o}", world.token).json()}
    assert full == {"openpkg", "secretpkg", "bothpkg", "hiddenpkg"}
    both = _api(yard, f"package/{o}/bothpkg", world.token).json()
    assert [f["labels"] for f in both["files"]] == [["internal", "main"]]
    got = _api(yard, f"download/{o}/secretpkg/1.0/{world.secret.name}", world.token)
    assert got.status_code == 200
    assert (
        hashlib.sha256(got.content).digest() == hashlib.sha256(world.secret.read_bytes()).digest()
    )


def test_private_package_leaves_cached_pages(yard: Yard, world: World) -> None:
    """A package made private disappears at once from anonymous index pages, HTML and JSON,
    even though nothing else changed its label (the page was cached while it was public)."""
    o = world.owner
    auth = {"Authorization": f"token {world.token}"}
    for _ in range(2):  # warm every cache level
        assert "openpkg" in httpx.get(f"{yard.url}/{o}/simple/").text
        assert httpx.get(f"{yard.url}/{o}/simple/openpkg/", headers=JSON).status_code == 200
    made = httpx.post(f"{yard.url}/api/package/{o}/openpkg", headers=auth, json={"public": False})
    assert made.status_code == 200 and made.json()["public"] is False
    assert "openpkg" not in httpx.get(f"{yard.url}/{o}/simple/").text
    assert "openpkg" not in httpx.get(f"{yard.url}/{o}/simple/", headers=JSON).text
    assert httpx.get(f"{yard.url}/{o}/simple/openpkg/").status_code == 404
    assert httpx.get(f"{yard.url}/{o}/all-labels/simple/openpkg/").status_code == 404
    sha = hashlib.sha256(world.public.read_bytes()).hexdigest()
    assert httpx.get(f"{yard.url}/{o}/files/{sha}/{world.public.name}").status_code == 404
    # ... and comes back when made public again.
    httpx.post(f"{yard.url}/api/package/{o}/openpkg", headers=auth, json={"public": True})
    assert "openpkg" in httpx.get(f"{yard.url}/{o}/simple/").text


def test_copy_never_publishes_private_packages(yard: Yard, world: World) -> None:
    o, other = world.owner, world.owner + "x"
    theirs = {"Authorization": f"token {world.other}"}
    for package, label, name in (
        ("hiddenpkg", "main", world.hidden.name),
        ("secretpkg", "internal", world.secret.name),
    ):
        for url in (
            f"{yard.url}/api/copy/package/{o}/{package}/1.0/",
            f"{yard.url}/api/copy/package/{o}/{package}/1.0/{name}",
        ):
            body = {"to_owner": other, "from_channel": label, "to_channel": "main"}
            refused = httpx.post(url, headers=theirs, json=body)
            assert refused.status_code == 404, refused.text
            missing = httpx.post(url.replace(package, "nopkg"), headers=theirs, json=body)
            if label == "main":
                _same_as_missing(refused, missing, (package, "nopkg"))
    assert httpx.get(f"{yard.url}/{other}/simple/").status_code in (200, 404)
    assert "hiddenpkg" not in httpx.get(f"{yard.url}/{other}/simple/").text
    assert httpx.get(f"{yard.url}/api/packages/{other}").json() == []

    # The owner copying its private package to an org it writes to: it stays private there.
    org = o + "org"
    yard.cli("org", "create", org, "--owner", o)
    mine = {"Authorization": f"token {world.token}"}
    copied = httpx.post(
        f"{yard.url}/api/copy/package/{o}/hiddenpkg/1.0/",
        headers=mine,
        json={"to_owner": org, "from_channel": "main", "to_channel": "main"},
    )
    assert copied.status_code == 200, copied.text
    assert httpx.get(f"{yard.url}/{org}/simple/hiddenpkg/").status_code == 404
    assert httpx.get(f"{yard.url}/api/package/{org}/hiddenpkg").status_code == 404
    shown = httpx.get(f"{yard.url}/api/package/{org}/hiddenpkg", headers=mine).json()
    assert shown["public"] is False


def test_private_owner_answers_like_a_missing_one(yard: Yard, owner_name: str) -> None:
    hidden, missing, stranger = owner_name, owner_name + "none", owner_name + "s"
    token = yard.user(hidden)
    their = yard.user(stranger)
    org = owner_name + "org"
    yard.cli("org", "create", org, "--owner", hidden)
    yard.cli("owner", "private", hidden)
    yard.cli("owner", "private", org)
    paths = [
        "api/user/{o}",
        "api/users/{o}/orgs",
        "api/packages/{o}",
        "api/package/{o}/p",
        "api/release/{o}/p/1.0",
        "api/dist/{o}/p/1.0/p-1.0-py3-none-any.whl",
        "api/channels/{o}",
        "api/channels/{o}/main",
        "{o}/simple/",
        "{o}/label/main/simple/",
        "{o}/simple/p/",
        "{o}/all-labels/simple/p/",
    ]
    for who in (None, their):
        headers = {"Authorization": f"token {who}"} if who else {}
        for owner in (hidden, org):
            for path in paths:
                got = httpx.get(f"{yard.url}/" + path.format(o=owner), headers=headers)
                gone = httpx.get(f"{yard.url}/" + path.format(o=missing), headers=headers)
                _same_as_missing(got, gone, (owner, missing))
            for method, path in (
                ("POST", "api/package/{o}/p"),
                ("DELETE", "api/package/{o}/p"),
                ("POST", "api/channels/{o}/main/lock"),
                ("POST", "{o}/"),
            ):
                got = httpx.request(method, f"{yard.url}/" + path.format(o=owner), headers=headers)
                gone = httpx.request(
                    method, f"{yard.url}/" + path.format(o=missing), headers=headers
                )
                _same_as_missing(got, gone, (owner, missing))
    # The stranger's own org list never names the private org; the owner's does.
    assert httpx.get(f"{yard.url}/api/users/{stranger}/orgs").json() == []
    mine = httpx.get(f"{yard.url}/api/user/orgs", headers={"Authorization": f"token {token}"})
    assert [o["login"] for o in mine.json()] == [org]
