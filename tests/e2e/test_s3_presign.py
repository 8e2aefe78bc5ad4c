"""Presigned downloads (``WHEELYARD_S3_PRESIGN=1``): a private file redirects to the bucket
only after the reader is authorised; the bucket answers with the file's name and type; pip
follows the redirect; ranges go to the bucket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import JSON, Yard, pip_install, start_yard, stop_yard, twine
from tests.s3server import new_bucket, yard_env
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e


@pytest.fixture
def presigning(s3_endpoint: str, tmp_path: Path) -> Iterator[Yard]:
    env = {**yard_env(s3_endpoint, new_bucket(s3_endpoint)), "WHEELYARD_S3_PRESIGN": "1"}
    yard = start_yard(tmp_path / "yard", env)
    yield yard
    stop_yard(yard)


def test_private_files_redirect_only_for_authorised_readers(
    presigning: Yard, s3_endpoint: str, tmp_path: Path
) -> None:
    yard = presigning
    token = yard.user("alice")
    (tmp_path / "w").mkdir()
    wheel = make_wheel(tmp_path / "w", "hidden-pkg", "1.0")
    twine(yard, "alice/label/internal", token, wheel)
    yard.cli("label", "private", "alice", "internal")

    base = f"{yard.url}/t/{token}/alice/label/internal/simple"
    page = httpx.get(f"{base}/hidden-pkg/", headers=JSON).json()
    url = httpx.URL(f"{base}/hidden-pkg/").join(page["files"][0]["url"])
    anonymous = httpx.get(str(url).replace(f"/t/{token}", ""))
    assert anonymous.status_code == 404 and "location" not in anonymous.headers
    redirected = httpx.get(url)
    assert redirected.status_code == 307, redirected.text
    assert redirected.headers["cache-control"] == "no-store"
    location = redirected.headers["location"]
    assert location.startswith(s3_endpoint) and "X-Amz-Expires=300" in location
    fetched = httpx.get(location)
    assert fetched.content == wheel.read_bytes()
    # The bucket names the file (curl -OJ, a browser) and types it as the yard itself does.
    assert fetched.headers["content-disposition"] == f'attachment; filename="{wheel.name}"'
    assert fetched.headers["content-type"] == "application/octet-stream"
    followed = httpx.get(url, follow_redirects=True)
    assert followed.history[0].status_code == 307 and followed.url.host == "127.0.0.1"
    assert str(followed.url).startswith(s3_endpoint) and followed.content == wheel.read_bytes()
    assert followed.headers["content-disposition"] == f'attachment; filename="{wheel.name}"'
    part = httpx.get(location, headers={"Range": "bytes=-16"})
    assert part.status_code == 206 and part.content == wheel.read_bytes()[-16:]
    # PEP 658 metadata stays on the yard (small, checked against its recorded digest).
    assert httpx.get(f"{url}.metadata").status_code == 200

    pip_install(base, tmp_path / "site", "hidden-pkg")
    assert (tmp_path / "site" / "hidden_pkg-1.0.dist-info").is_dir()


def test_presigned_urls_name_the_public_endpoint(
    s3_endpoint: str, tmp_path: Path, owner_name: str
) -> None:
    """``WHEELYARD_S3_PUBLIC_ENDPOINT_URL``: the server reaches the bucket at one address,
    clients at another (here the same moto as http://localhost:PORT): the presigned URL is
    signed for the public one, and the bucket answers it."""
    port = httpx.URL(s3_endpoint).port
    public = f"http://localhost:{port}"
    env = {
        **yard_env(s3_endpoint, new_bucket(s3_endpoint)),
        "WHEELYARD_S3_PRESIGN": "1",
        "WHEELYARD_S3_PUBLIC_ENDPOINT_URL": public,
    }
    yard = start_yard(tmp_path / "yard", env)
    try:
        token = yard.user(owner_name)
        (tmp_path / "w").mkdir()
        wheel = make_wheel(tmp_path / "w", "far-pkg", "1.0")
        twine(yard, owner_name, token, wheel)
        page_url = f"{yard.url}/{owner_name}/simple/far-pkg/"
        page = httpx.get(page_url, headers=JSON).json()
        url = httpx.URL(page_url).join(page["files"][0]["url"])
        redirected = httpx.get(url)
        assert redirected.status_code == 307, redirected.text
        location = httpx.URL(redirected.headers["location"])
        assert (location.scheme, location.host, location.port) == ("http", "localhost", port)
        fetched = httpx.get(location)
        assert fetched.status_code == 200 and fetched.content == wheel.read_bytes()
        assert fetched.headers["content-disposition"] == f'attachment; filename="{wheel.name}"'
    finally:
        stop_yard(yard)
