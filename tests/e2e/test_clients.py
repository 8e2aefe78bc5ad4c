"""Real twine, uv and pip against a real server: upload, skip-existing, conflicts, installs."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.helpers import BIN, Yard, pip_install, run, twine
from wheelyard.testing import make_sdist, make_wheel

pytestmark = pytest.mark.e2e


def test_twine_upload_then_pip_and_uv_install(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    token = yard.user(owner_name)
    wheel = make_wheel(tmp_path, "Tiny_Pkg", "0.1.0", requires_python=">=3.8")
    sdist = make_sdist(tmp_path, "tiny-pkg", "0.1.0")
    twine(yard, f"{owner_name}/label/dev/", token, wheel, sdist)

    index = f"{yard.url}/{owner_name}/label/dev/simple"
    pip_install(index, tmp_path / "pip-target", "tiny_pkg==0.1.0")
    assert (tmp_path / "pip-target" / "tiny_pkg" / "__init__.py").is_file()

    venv = tmp_path / "uv-venv"
    run([str(BIN / "uv"), "venv", "-q", str(venv)])
    run(
        [
            str(BIN / "uv"),
            "pip",
            "install",
            "--python",
            str(venv / "bin" / "python"),
            "--index-url",
            index,
            "Tiny-Pkg==0.1.0",
        ]
    )
    out = run([str(venv / "bin" / "python"), "-c", "import tiny_pkg; print(tiny_pkg.__version__)"])
    assert out.stdout.strip() == "0.1.0"

    # The label main (the owner's plain /simple/) does not hold files uploaded to dev.
    assert httpx.get(f"{yard.url}/{owner_name}/simple/tiny-pkg/").status_code == 404


def test_owner_url_means_label_main(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    token = yard.user(owner_name)
    wheel = make_wheel(tmp_path, "mainpkg", "1.0")
    twine(yard, f"{owner_name}/", token, wheel)
    page = httpx.get(f"{yard.url}/{owner_name}/simple/mainpkg/")
    assert page.status_code == 200 and "mainpkg-1.0-py3-none-any.whl" in page.text
    page = httpx.get(f"{yard.url}/{owner_name}/label/main/simple/mainpkg/")
    assert page.status_code == 200


def test_same_bytes_is_a_noop_that_adds_label(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    token = yard.user(owner_name)
    wheel = make_wheel(tmp_path, "twice", "1.0")
    twine(yard, f"{owner_name}/label/a/", token, wheel)
    again = httpx.post(
        f"{yard.url}/{owner_name}/label/b/",
        auth=("__token__", token),
        files={"content": (wheel.name, wheel.read_bytes())},
        data={":action": "file_upload"},
    )
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "existing" and again.json()["labels_added"] == ["b"]
    for label in ("a", "b"):
        page = httpx.get(f"{yard.url}/{owner_name}/label/{label}/simple/twice/")
        assert wheel.name in page.text


def test_different_bytes_conflict_and_skip_existing(
    yard: Yard, owner_name: str, tmp_path: Path
) -> None:
    token = yard.user(owner_name)
    first = make_wheel(tmp_path, "clash", "1.0", module_body="x = 1\n")
    twine(yard, f"{owner_name}/", token, first)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    second = make_wheel(other_dir, "clash", "1.0", module_body="x = 2\n")
    failed = twine(yard, f"{owner_name}/", token, second, extra=("--verbose",), check=False)
    assert failed.returncode != 0
    assert "409" in failed.stdout + failed.stderr
    assert "clash-1.0-py3-none-any.whl already exists" in failed.stdout + failed.stderr
    skipped = twine(yard, f"{owner_name}/", token, second, extra=("--skip-existing",))
    assert "Skipping" in skipped.stdout + skipped.stderr
    # The stored file is still the first one.
    page = httpx.get(
        f"{yard.url}/{owner_name}/simple/clash/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    ).json()
    import hashlib

    assert page["files"][0]["hashes"]["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()


def test_uv_publish(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    token = yard.user(owner_name)
    wheel = make_wheel(tmp_path, "uvpub", "2.0")
    run(
        [
            str(BIN / "uv"),
            "publish",
            "--publish-url",
            f"{yard.url}/{owner_name}/label/uv/",
            "--username",
            "__token__",
            "--password",
            token,
            str(wheel),
        ]
    )
    page = httpx.get(f"{yard.url}/{owner_name}/label/uv/simple/uvpub/")
    assert wheel.name in page.text


def test_auth_failures(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    token = yard.user(owner_name)
    read_only = yard.token(owner_name, "ro", "pypi:download")
    wheel = make_wheel(tmp_path, "authpkg", "1.0")
    files = {"content": (wheel.name, wheel.read_bytes())}
    url = f"{yard.url}/{owner_name}/"

    missing = httpx.post(url, files=files)
    assert missing.status_code == 401 and "WWW-Authenticate" in missing.headers
    bad = httpx.post(url, files=files, auth=("__token__", "wy_nope"))
    assert bad.status_code == 401 and "WWW-Authenticate" in bad.headers
    weak = httpx.post(url, files=files, auth=("__token__", read_only))
    assert weak.status_code == 403
    assert "pypi:upload" in weak.json()["error"]
    stranger = yard.user(owner_name + "x")
    foreign = httpx.post(url, files=files, auth=("__token__", stranger))
    assert foreign.status_code == 403
    # twine reports the refusal and exits non-zero
    result = twine(yard, f"{owner_name}/", read_only, wheel, check=False)
    assert result.returncode != 0 and "403" in result.stdout + result.stderr
    assert httpx.post(url, files=files, auth=("__token__", token)).status_code == 200


def test_json_api_and_metadata(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    token = yard.user(owner_name)
    wheels = [
        make_wheel(tmp_path, "meta-pkg", v, requires_python=">=3.9") for v in ("1.0", "1.10", "1.9")
    ]
    twine(yard, f"{owner_name}/", token, *wheels)
    accept = {"Accept": "application/vnd.pypi.simple.v1+json"}
    page = httpx.get(f"{yard.url}/{owner_name}/simple/meta-pkg/", headers=accept)
    assert page.headers["content-type"].startswith("application/vnd.pypi.simple.v1+json")
    data = page.json()
    assert data["meta"]["api-version"] == "1.1"
    assert data["versions"] == ["1.0", "1.9", "1.10"]
    entry = data["files"][0]
    assert entry["requires-python"] == ">=3.9" and entry["size"] > 0 and entry["upload-time"]
    file_url = httpx.URL(f"{yard.url}/{owner_name}/simple/meta-pkg/").join(entry["url"])
    meta = httpx.get(str(file_url) + ".metadata")
    import hashlib

    assert hashlib.sha256(meta.content).hexdigest() == entry["core-metadata"]["sha256"]
    assert b"Name: meta-pkg" in meta.content
    root = httpx.get(f"{yard.url}/{owner_name}/simple/", headers=accept).json()
    assert {"name": "meta-pkg"} in root["projects"]
    html = httpx.get(f"{yard.url}/{owner_name}/simple/meta-pkg/").text
    assert 'data-core-metadata="sha256=' in html and 'data-requires-python="&gt;=3.9"' in html
    assert (
        httpx.get(
            f"{yard.url}/{owner_name}/simple/meta-pkg/", headers={"Accept": "application/x-nothing"}
        ).status_code
        == 406
    )


def test_redirects_404_etag_range(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    token = yard.user(owner_name)
    wheel = make_wheel(tmp_path, "Some.Thing", "1.0")
    twine(yard, f"{owner_name}/", token, wheel)
    base = f"{yard.url}/{owner_name}/simple"
    moved = httpx.get(f"{base}/Some.Thing/")
    assert moved.status_code == 301
    assert moved.headers["location"].endswith(f"/{owner_name}/simple/some-thing/")
    assert httpx.get(f"{base}/nothing-here/").status_code == 404
    assert httpx.get(f"{yard.url}/nobody-at-all/simple/").status_code == 404
    page = httpx.get(f"{base}/some-thing/")
    etag = page.headers["etag"]
    assert httpx.get(f"{base}/some-thing/", headers={"If-None-Match": etag}).status_code == 304
    assert (
        httpx.get(
            f"{base}/", headers={"If-None-Match": httpx.get(f"{base}/").headers["etag"]}
        ).status_code
        == 304
    )
    data = httpx.get(
        f"{base}/some-thing/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    ).json()
    url = httpx.URL(f"{base}/some-thing/").join(data["files"][0]["url"])
    part = httpx.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == wheel.read_bytes()[:10]
    assert httpx.get(url).content == wheel.read_bytes()


def test_uploads_json_error_shape(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    token = yard.user(owner_name)
    bad = tmp_path / "broken-1.0-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    response = httpx.post(
        f"{yard.url}/{owner_name}/",
        auth=("__token__", token),
        files={"content": (bad.name, bad.read_bytes())},
    )
    assert response.status_code == 400
    assert "not a zip" in json.loads(response.text)["error"]
