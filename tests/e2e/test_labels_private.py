"""Labels, locking, yanking and private reads, driven through the admin CLI and real pip."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from tests.helpers import JSON, Yard, pip_install, twine
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e


def test_label_copy_remove_lock(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    token = yard.user(owner_name)
    w1 = make_wheel(tmp_path, "lab", "1.0")
    w2 = make_wheel(tmp_path, "lab", "2.0")
    twine(yard, f"{owner_name}/label/dev/", token, w1, w2)
    assert httpx.get(f"{yard.url}/{owner_name}/simple/lab/").status_code == 404

    copied = yard.cli("label", "copy", owner_name, "dev", "main")
    assert "2 more file(s)" in copied.stdout
    page = httpx.get(f"{yard.url}/{owner_name}/simple/lab/", headers=JSON).json()
    assert sorted(f["filename"] for f in page["files"]) == sorted([w1.name, w2.name])
    listing = yard.cli("label", "list", owner_name).stdout
    assert "dev" in listing and "main" in listing

    # Removing dev keeps the files: main still holds them.
    yard.cli("label", "remove", owner_name, "dev")
    assert httpx.get(f"{yard.url}/{owner_name}/label/dev/simple/").status_code == 404
    assert httpx.get(f"{yard.url}/{owner_name}/simple/lab/").status_code == 200
    assert yard.cli("check").returncode == 0

    yard.cli("label", "lock", owner_name, "main")
    w3 = make_wheel(tmp_path, "lab", "3.0")
    refused = httpx.post(
        f"{yard.url}/{owner_name}/",
        auth=("__token__", token),
        files={"content": (w3.name, w3.read_bytes())},
    )
    assert refused.status_code == 423 and "locked" in refused.json()["error"]
    removal = yard.cli("label", "remove", owner_name, "main", check=False)
    assert removal.returncode == 1 and "locked" in removal.stderr
    assert "Traceback" not in removal.stderr
    yard.cli("label", "unlock", owner_name, "main")
    twine(yard, f"{owner_name}/", token, w3)

    # Removing the last label of a file deletes it, bytes included, and check agrees.
    yard.cli("label", "remove", owner_name, "main")
    assert httpx.get(f"{yard.url}/{owner_name}/simple/").status_code == 404
    assert yard.cli("check").returncode == 0


def test_yank_per_label(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    token = yard.user(owner_name)
    old, new = make_wheel(tmp_path, "yanky", "1.0"), make_wheel(tmp_path, "yanky", "2.0")
    twine(yard, f"{owner_name}/", token, old, new)
    yard.cli("label", "copy", owner_name, "main", "stable")
    yard.cli("yank", owner_name, "yanky", "2.0", "--reason", "broken build")
    html = httpx.get(f"{yard.url}/{owner_name}/simple/yanky/").text
    assert 'data-yanked="broken build"' in html
    data = httpx.get(f"{yard.url}/{owner_name}/simple/yanky/", headers=JSON).json()
    yanked = {f["filename"]: f["yanked"] for f in data["files"]}
    assert yanked == {old.name: False, new.name: "broken build"}
    # pip skips the yanked release; the other label is untouched.
    pip_install(f"{yard.url}/{owner_name}/simple", tmp_path / "t1", "yanky")
    assert (tmp_path / "t1" / "yanky-1.0.dist-info").is_dir()
    pip_install(f"{yard.url}/{owner_name}/label/stable/simple", tmp_path / "t2", "yanky")
    assert (tmp_path / "t2" / "yanky-2.0.dist-info").is_dir()
    yard.cli("unyank", owner_name, "yanky", "2.0")
    assert "data-yanked" not in httpx.get(f"{yard.url}/{owner_name}/simple/yanky/").text
    missing = yard.cli("yank", owner_name, "yanky", "9.0", check=False)
    assert missing.returncode == 1 and "no file" in missing.stderr


def test_private_label_reads(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    token = yard.user(owner_name)
    reader = yard.token(owner_name, "reader", "pypi:download")
    uploader_only = yard.token(owner_name, "up", "pypi:upload")
    wheel = make_wheel(tmp_path, "secretpkg", "1.0")
    twine(yard, f"{owner_name}/label/internal/", token, wheel)
    yard.cli("label", "private", owner_name, "internal")
    host = yard.url.removeprefix("http://")
    base = f"{owner_name}/label/internal/simple"

    anonymous = httpx.get(f"{yard.url}/{base}/secretpkg/")
    assert anonymous.status_code == 404
    wrong = httpx.get(f"{yard.url}/{base}/secretpkg/", auth=("__token__", "wy_wrong"))
    assert wrong.status_code == 401 and "WWW-Authenticate" in wrong.headers
    lacking = httpx.get(f"{yard.url}/{base}/secretpkg/", auth=("__token__", uploader_only))
    assert lacking.status_code == 403 and "pypi:download" in lacking.json()["error"]
    other_user = yard.user(owner_name + "z")
    assert (
        httpx.get(f"{yard.url}/{base}/secretpkg/", auth=("__token__", other_user)).status_code
        == 404
    )

    # pip with credentials in the URL (basic auth) and the Anaconda.org /t/<token>/ form.
    pip_install(f"http://__token__:{reader}@{host}/{base}", tmp_path / "basic", "secretpkg")
    assert (tmp_path / "basic" / "secretpkg").is_dir()
    pip_install(f"{yard.url}/t/{reader}/{base}", tmp_path / "path", "secretpkg")
    assert (tmp_path / "path" / "secretpkg").is_dir()
    refused = pip_install(f"{yard.url}/{base}", tmp_path / "anon", "secretpkg", check=False)
    assert refused.returncode != 0

    # The token never reaches the server log.
    assert reader not in yard.log.read_text()
    assert "/t/<redacted>/" in yard.log.read_text()

    # Owner-wide privacy hides the public label main too.
    (tmp_path / "pub").mkdir()
    twine(yard, f"{owner_name}/", token, make_wheel(tmp_path / "pub", "pubpkg", "1.0"))
    assert httpx.get(f"{yard.url}/{owner_name}/simple/pubpkg/").status_code == 200
    yard.cli("owner", "private", owner_name)
    assert httpx.get(f"{yard.url}/{owner_name}/simple/pubpkg/").status_code == 404
    assert httpx.get(f"{yard.url}/t/{reader}/{owner_name}/simple/pubpkg/").status_code == 200
    # The Anaconda API does not reveal a private owner either, except to its members.
    assert httpx.get(f"{yard.url}/api/user/{owner_name}").status_code == 404
    as_member = {"Authorization": f"token {uploader_only}"}
    assert httpx.get(f"{yard.url}/api/user/{owner_name}", headers=as_member).status_code == 200
    yard.cli("owner", "public", owner_name)
    yard.cli("label", "public", owner_name, "internal")
    assert httpx.get(f"{yard.url}/{base}/secretpkg/").status_code == 200


def test_org_members_upload(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    alice = yard.user(owner_name + "a")
    bob = yard.user(owner_name + "b")
    org = owner_name + "org"
    yard.cli("org", "create", org, "--owner", owner_name + "a")
    wheel = make_wheel(tmp_path, "orgpkg", "1.0")
    files = {"content": (wheel.name, wheel.read_bytes())}
    assert httpx.post(f"{yard.url}/{org}/", auth=("__token__", bob), files=files).status_code == 403
    yard.cli("org", "add-member", org, owner_name + "b")
    assert httpx.post(f"{yard.url}/{org}/", auth=("__token__", bob), files=files).status_code == 200
    assert (
        httpx.post(f"{yard.url}/{org}/", auth=("__token__", alice), files=files).status_code == 200
    )
    assert httpx.get(f"{yard.url}/{org}/simple/orgpkg/").status_code == 200


def test_all_labels_view(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    """One page per project across the labels a reader may read (what the builder asks)."""
    token = yard.user(owner_name)
    public, hidden = make_wheel(tmp_path, "spread", "1.0"), make_wheel(tmp_path, "spread", "2.0")
    twine(yard, f"{owner_name}/label/dev/", token, public)
    twine(yard, f"{owner_name}/label/secret/", token, hidden)
    twine(yard, f"{owner_name}/label/stable/", token, public)
    yard.cli("label", "private", owner_name, "secret")
    yard.cli("yank", owner_name, "spread", "1.0", "--label", "dev")
    url = f"{yard.url}/{owner_name}/all-labels/simple/spread/"

    anonymous = httpx.get(url, headers=JSON).json()
    assert [f["filename"] for f in anonymous["files"]] == [public.name]
    assert anonymous["files"][0]["yanked"] is False  # stable still holds it unyanked
    with_token = httpx.get(url, headers={**JSON, "Authorization": f"token {token}"}).json()
    assert sorted(f["filename"] for f in with_token["files"]) == sorted([public.name, hidden.name])
    assert httpx.get(f"{yard.url}/{owner_name}/all-labels/simple/nothing/").status_code == 404
    assert httpx.get(f"{yard.url}/{owner_name}/all-labels/simple/Spread/").status_code == 301

    # pip installs from it: file links and PEP 658 metadata resolve under the view.
    pip_install(f"{yard.url}/{owner_name}/all-labels/simple", tmp_path / "t", "spread")
    assert (tmp_path / "t" / "spread-1.0.dist-info").is_dir()  # 2.0 is private
    sha = hashlib.sha256(hidden.read_bytes()).hexdigest()
    hidden_url = f"{yard.url}/{owner_name}/all-labels/files/{sha}/{hidden.name}"
    assert httpx.get(hidden_url).status_code == 404
    auth = {"Authorization": f"token {token}"}
    assert httpx.get(hidden_url, headers=auth).content == hidden.read_bytes()
