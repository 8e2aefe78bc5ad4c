"""The unmodified anaconda client (anaconda-client 1.16) against a real wheelyard server.

Each command's exit status and output are checked, and so is the resulting state, through
the simple index that pip reads.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers import (
    JSON,
    PASSWORD,
    Anaconda,
    Yard,
    files_in,
    new_user,
    pip_install,
    text,
    twine,
    wait_for,
)
from wheelyard.testing import make_sdist, make_wheel

pytestmark = pytest.mark.e2e


@pytest.fixture
def anaconda(yard: Yard, tmp_path: Path) -> Anaconda:
    client = Anaconda.configured(yard, tmp_path / "home")
    config = client.home / ".continuum" / "anaconda-client" / "config.yaml"
    assert f"{yard.url}/api" in config.read_text()
    return client


def create_token(anaconda: Anaconda, *extra: str) -> str:
    out = anaconda("auth", "--create", *extra, input=PASSWORD + "\n").stdout
    return out.strip().splitlines()[-1]


def test_readme_workflow(yard: Yard, anaconda: Anaconda, owner_name: str, tmp_path: Path) -> None:
    new_user(yard, owner_name)
    login = anaconda("login", "--username", owner_name, "--password", PASSWORD)
    assert "login successful" in text(login)
    who = anaconda("org", "whoami")
    assert owner_name in text(who) and "user_type: user" in text(who)
    token = create_token(anaconda, "--scopes", "api:write pypi:upload", "-n", "ci-upload")
    assert token.startswith("wy_")

    wheel = make_wheel(tmp_path, "Tiny_Pkg", "0.1.0", requires_python=">=3.8")
    up = anaconda("upload", "--force", "-u", owner_name, "-l", "dev", str(wheel), token=token)
    assert "Upload complete" in text(up)
    assert files_in(yard, owner_name, "dev", "tiny-pkg") == [wheel.name]
    assert files_in(yard, owner_name, "main", "tiny-pkg") == []
    pip_install(f"{yard.url}/{owner_name}/label/dev/simple", tmp_path / "t", "tiny-pkg")
    assert (tmp_path / "t" / "tiny_pkg" / "__init__.py").is_file()

    # The same token works for twine, and a CLI-made token works for anaconda -t.
    twine(yard, f"{owner_name}/label/dev/", token, make_wheel(tmp_path, "Tiny_Pkg", "0.2.0"))
    cli_token = yard.token(owner_name, "from-cli", "api:write")
    anaconda(
        "upload", "-u", owner_name, str(make_wheel(tmp_path, "tiny-pkg", "0.3.0")), token=cli_token
    )
    assert files_in(yard, owner_name, "main", "tiny-pkg") == ["tiny_pkg-0.3.0-py3-none-any.whl"]


def test_auth_commands(yard: Yard, anaconda: Anaconda, owner_name: str) -> None:
    new_user(yard, owner_name)
    anaconda("login", "--username", owner_name, "--password", PASSWORD)
    token = create_token(anaconda, "--scopes", "api:read", "-n", "reader", "--max-age", "3600")
    listing = text(anaconda("auth", "--list"))
    assert "reader" in listing and "api:read" in listing and token not in listing
    info = anaconda("auth", "--info", token=token)
    assert "reader" in text(info)
    scopes = anaconda("auth", "--list-scopes")
    assert "pypi:upload" in text(scopes)
    anaconda("auth", "--remove", "reader")
    assert "reader" not in yard.cli("token", "list", "--user", owner_name).stdout
    assert (
        httpx.get(f"{yard.url}/api/user", headers={"Authorization": f"token {token}"}).status_code
        == 401
    )
    # A token name clash is a clear 400 for auth --create ...
    create_token(anaconda, "-n", "dup")
    clash = anaconda("auth", "--create", "-n", "dup", input=PASSWORD + "\n", ok=False)
    assert clash.returncode != 0 and "already has a token named 'dup'" in text(clash)
    # ... and login, whose token is named after the host, asks and replaces it on "y".
    again = anaconda("login", "--username", owner_name, "--password", PASSWORD, input="y\n")
    assert "login successful" in text(again)
    assert (
        len(
            [
                t
                for t in yard.cli("token", "list", "--user", owner_name).stdout.splitlines()
                if "binstar_client" in t
            ]
        )
        == 1
    )
    anaconda("org", "logout")
    assert not [
        t
        for t in yard.cli("token", "list", "--user", owner_name).stdout.splitlines()
        if "binstar_client" in t
    ]
    assert not list((anaconda.home / ".continuum" / "anaconda-client" / "tokens").glob("*.token"))


def test_upload_modes(yard: Yard, anaconda: Anaconda, owner_name: str, tmp_path: Path) -> None:
    new_user(yard, owner_name)
    token = yard.token(owner_name, "up", "api:write")
    first = make_wheel(tmp_path, "modes", "1.0", module_body="x = 1\n")
    u = owner_name

    anaconda("upload", "-u", u, "-l", "a", "-l", "b", str(first), token=token)
    assert files_in(yard, u, "a", "modes") == files_in(yard, u, "b", "modes") == [first.name]
    again = anaconda("upload", "-u", u, "-l", "a", str(first), token=token, ok=False)
    assert again.returncode != 0
    skipped = anaconda("upload", "--skip-existing", "-u", u, "-l", "a", str(first), token=token)
    assert skipped.returncode == 0

    (tmp_path / "v2").mkdir()
    rebuilt = make_wheel(tmp_path / "v2", "modes", "1.0", module_body="x = 2\n")
    # --force with other bytes on a file another label holds is refused: b keeps its bytes.
    forced = anaconda("upload", "--force", "-u", u, "-l", "a", str(rebuilt), token=token, ok=False)
    assert forced.returncode != 0
    assert "label(s) b" in text(forced)
    assert files_in(yard, u, "b", "modes") == [first.name]
    # With one label it replaces the file.
    anaconda("upload", "-u", u, "-l", "c", str(make_wheel(tmp_path, "solo", "1.0")), token=token)
    (tmp_path / "v3").mkdir()
    anaconda(
        "upload",
        "--force",
        "-u",
        u,
        "-l",
        "c",
        str(make_wheel(tmp_path / "v3", "solo", "1.0", module_body="y = 1\n")),
        token=token,
    )
    import hashlib

    data = httpx.get(f"{yard.url}/{u}/label/c/simple/solo/", headers=JSON).json()
    assert (
        data["files"][0]["hashes"]["sha256"]
        == hashlib.sha256((tmp_path / "v3" / "solo-1.0-py3-none-any.whl").read_bytes()).hexdigest()
    )

    # -p with another spelling lands in the same package; --summary is accepted.
    other = make_wheel(tmp_path, "Spelled_Name", "2.0", summary="")
    anaconda(
        "upload", "-u", u, "-p", "spelled_name", "--summary", "Spelled pkg", str(other), token=token
    )
    anaconda("upload", "-u", u, str(make_wheel(tmp_path, "spelled-name", "3.0")), token=token)
    assert files_in(yard, u, "main", "spelled-name") == [
        other.name,
        "spelled_name-3.0-py3-none-any.whl",
    ]
    show = httpx.get(f"{yard.url}/api/package/{u}/Spelled.Name").json()
    assert show["summary"] in ("Spelled pkg", "A test package")
    assert show["full_name"] == f"{u}/spelled-name" and len(show["releases"]) == 2

    # sdists too
    sdist = make_sdist(tmp_path, "modes", "3.0")
    anaconda("upload", "-u", u, str(make_wheel(tmp_path, "modes", "2.0")), token=token)
    anaconda("upload", "-u", u, str(sdist), token=token)
    assert sdist.name in files_in(yard, u, "main", "modes")

    # --private hides the package from anonymous readers, not from the owner's read token.
    anaconda(
        "upload", "--private", "-u", u, str(make_wheel(tmp_path, "hidden", "1.0")), token=token
    )
    assert httpx.get(f"{yard.url}/{u}/simple/hidden/").status_code == 404
    assert "hidden" not in httpx.get(f"{yard.url}/{u}/simple/").text
    reader = yard.token(u, "reader", "pypi:download")
    assert httpx.get(f"{yard.url}/t/{reader}/{u}/simple/hidden/").status_code == 200


def test_scope_and_lock_failures_are_loud(
    yard: Yard, anaconda: Anaconda, owner_name: str, tmp_path: Path
) -> None:
    new_user(yard, owner_name)
    weak = yard.token(owner_name, "weak", "api:read")
    wheel = make_wheel(tmp_path, "loud", "1.0")
    refused = anaconda("upload", "-u", owner_name, str(wheel), token=weak, ok=False)
    assert refused.returncode != 0
    assert "pypi:upload" in text(refused)
    token = yard.token(owner_name, "strong", "api:write")
    yard.cli("label", "lock", owner_name, "main")
    locked = anaconda("upload", "-u", owner_name, str(wheel), token=token, ok=False)
    assert locked.returncode != 0 and "locked" in text(locked)
    assert files_in(yard, owner_name, "main", "loud") == []


def test_label_commands(yard: Yard, anaconda: Anaconda, owner_name: str, tmp_path: Path) -> None:
    new_user(yard, owner_name)
    anaconda("login", "--username", owner_name, "--password", PASSWORD)
    u = owner_name
    w = make_wheel(tmp_path, "labelled", "1.0")
    anaconda("upload", "-u", u, "-l", "dev", str(w))
    listing = anaconda("label", "--list")
    assert "dev" in text(listing)
    shown = anaconda("label", "--show", "dev")
    assert f"{u}/labelled/1.0/{w.name}" in text(shown)
    anaconda("label", "--copy", "dev", "main")
    assert files_in(yard, u, "main", "labelled") == [w.name]
    anaconda("label", "--lock", "main")
    assert httpx.get(f"{yard.url}/api/channels/{u}").json()["main"]["is_locked"] is True
    blocked = anaconda("label", "--remove", "main", ok=False)
    assert blocked.returncode != 0 and "locked" in text(blocked)
    anaconda("label", "--unlock", "main")
    anaconda("label", "--remove", "dev")
    assert files_in(yard, u, "dev", "labelled") == []
    assert files_in(yard, u, "main", "labelled") == [w.name]


def test_copy_remove_show_download(
    yard: Yard, anaconda: Anaconda, owner_name: str, tmp_path: Path
) -> None:
    new_user(yard, owner_name)
    other = owner_name + "2"
    new_user(yard, other)
    yard.cli("org", "create", other + "org", "--owner", owner_name)
    anaconda("login", "--username", owner_name, "--password", PASSWORD)
    u = owner_name
    wheels = [make_wheel(tmp_path, "cp", v) for v in ("1.0", "2.0")]
    anaconda("upload", "-u", u, "-l", "dev", *map(str, wheels))

    copied = anaconda("copy", f"{u}/cp/1.0", "--from-label", "dev", "--to-label", "stable")
    assert wheels[0].name in text(copied)
    assert files_in(yard, u, "stable", "cp") == [wheels[0].name]
    org = other + "org"
    anaconda("copy", f"{u}/cp/2.0/{wheels[1].name}", "--from-label", "dev", "--to-owner", org)
    assert files_in(yard, org, "main", "cp") == [wheels[1].name]

    show_owner = anaconda("show", u)
    assert "cp" in text(show_owner)
    show_pkg = anaconda("show", f"{u}/cp")
    assert "1.0" in text(show_pkg)
    show_rel = anaconda("show", f"{u}/cp/2.0")
    assert wheels[1].name in text(show_rel)
    show_file = anaconda("show", f"{u}/cp/2.0/{wheels[1].name}")
    assert "bdist_wheel" in text(show_file)

    out = tmp_path / "dl"
    out.mkdir()
    anaconda("download", f"{u}/cp", "-o", str(out))
    downloaded = sorted(p.name for p in out.rglob("*.whl"))
    assert downloaded and set(downloaded) <= {w.name for w in wheels}
    for p in out.rglob("*.whl"):
        assert p.read_bytes() == (tmp_path / p.name).read_bytes()

    # remove: a file with one label, a release, a package; -f makes a 404 a warning.
    # A single file goes after the removal delay (it may be a forced upload's delete).
    anaconda("remove", "-f", f"{u}/cp/2.0/{wheels[1].name}")
    assert wait_for(lambda: files_in(yard, u, "dev", "cp") == [wheels[0].name])
    anaconda("remove", "-f", f"{u}/cp/1.0")
    assert files_in(yard, u, "dev", "cp") == [] and files_in(yard, u, "stable", "cp") == []
    anaconda("upload", "-u", u, str(make_wheel(tmp_path, "gone", "1.0")))
    anaconda("remove", "-f", f"{u}/gone")
    assert httpx.get(f"{yard.url}/api/package/{u}/gone").status_code == 404
    assert anaconda("remove", "-f", f"{u}/gone").returncode == 0
    # The org's copy shares the blob: removing the source kept it intact.
    assert files_in(yard, org, "main", "cp") == [wheels[1].name]
    assert yard.cli("check").returncode == 0


def test_staged_transfer_rules(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    """The stage secret is single-use and bound to the announced bytes."""
    new_user(yard, owner_name)
    token = yard.token(owner_name, "t", "api:write")
    auth = {"Authorization": f"token {token}"}
    wheel = make_wheel(tmp_path, "staged", "1.0")
    import hashlib

    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    path = f"{owner_name}/staged/1.0/{wheel.name}"
    stage = httpx.post(
        f"{yard.url}/api/stage/{path}", headers=auth, json={"sha256": sha, "channels": ["dev"]}
    ).json()
    form = dict(stage["form_data"])
    bad = httpx.post(
        stage["post_url"],
        data={**form, "signature": "nope"},
        files={"file": (wheel.name, wheel.read_bytes())},
    )
    assert bad.status_code == 403 and "<Code>AccessDenied</Code>" in bad.text
    wrong_bytes = httpx.post(stage["post_url"], data=form, files={"file": (wheel.name, b"xx")})
    assert wrong_bytes.status_code == 400 and "InvalidDigest" in wrong_bytes.text
    good = httpx.post(
        stage["post_url"],
        data={**form, "Content-Length": str(wheel.stat().st_size)},
        files={"file": (wheel.name, wheel.read_bytes())},
    )
    assert good.status_code == 201
    replay = httpx.post(
        stage["post_url"], data=form, files={"file": (wheel.name, wheel.read_bytes())}
    )
    assert replay.status_code == 409
    assert files_in(yard, owner_name, "dev", "staged") == []  # invisible until commit
    done = httpx.post(
        f"{yard.url}/api/commit/{path}", headers=auth, json={"dist_id": stage["dist_id"]}
    )
    assert done.status_code == 200, done.text
    assert files_in(yard, owner_name, "dev", "staged") == [wheel.name]
    # A stage for a linux_ wheel is refused before any bytes are sent.
    refused = httpx.post(
        f"{yard.url}/api/stage/{owner_name}/staged/1.0/staged-1.0-cp311-cp311-linux_x86_64.whl",
        headers=auth,
        json={"sha256": sha},
    )
    assert refused.status_code == 400 and "linux_x86_64" in refused.json()["error"]
