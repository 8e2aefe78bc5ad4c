"""``wheelyard export``: pip installs from the static snapshot through ``file://`` and through
nginx, on both yards (SQLite + folder, PostgreSQL + S3); an S3 destination holds the same
objects with their content types; a second export after an upload changes only that."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import BIN, JSON, Yard, free_port, pip_install, running_nginx, twine
from tests.s3server import CREDENTIALS, new_bucket
from tests.s3server import client as s3client
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e

# How a static host serves a snapshot: index.html, or index.json for PEP 691 clients.
STATIC_SITE = """
    types {{ text/html html; application/vnd.pypi.simple.v1+json json; }}
    default_type application/octet-stream;
    map $http_accept $simple_index {{
        default index.html;
        "~application/vnd\\.pypi\\.simple\\.v1\\+json" index.json;
    }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index $simple_index;
        add_header Vary Accept;
    }}
"""


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """nginx on 127.0.0.1 serving the folder it yields, at the URL it yields."""
    root = tmp_path / "static"
    root.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running_nginx(tmp_path / "nginx", STATIC_SITE.format(port=port, root=root), url + "/"):
        yield url, root


def _wheel(folder: Path, name: str, version: str, requires: list[str] | None = None) -> Path:
    folder.mkdir()
    return make_wheel(folder, name, version, requires=requires or [])


def _export(yard: Yard, owner: str, to: str, **env: str) -> str:
    result = subprocess.run(
        [str(BIN / "wheelyard"), "export", owner, "main", "--to", to],
        env={**yard.env(), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_pip_installs_from_a_static_export(
    yard: Yard, owner_name: str, tmp_path: Path, nginx: tuple[str, Path]
) -> None:
    url, root = nginx
    token = yard.user(owner_name)
    dep = _wheel(tmp_path / "a", "snap-dep", "1.0")
    app = _wheel(tmp_path / "b", "snap-app", "1.0", ["snap-dep>=1"])
    twine(yard, owner_name, token, dep, app)

    assert "2 project(s), 4 file(s); wrote 10, deleted 0" in _export(yard, owner_name, str(root))
    pip_install(f"file://{root}/simple", tmp_path / "t1", "snap-app")
    assert (tmp_path / "t1" / "snap_dep-1.0.dist-info").is_dir()
    pip_install(f"{url}/simple", tmp_path / "t2", "snap-app")
    assert (tmp_path / "t2" / "snap_app-1.0.dist-info").is_dir()
    page = httpx.get(f"{url}/simple/snap-app/", headers=JSON)
    assert page.headers["content-type"] == "application/vnd.pypi.simple.v1+json"
    served = httpx.get(f"{yard.url}/{owner_name}/simple/snap-app/", headers=JSON)
    assert page.content == served.content  # the server's own page, byte for byte

    # Incremental: one upload → its two files and its project's two pages.
    newer = _wheel(tmp_path / "c", "snap-dep", "1.1")
    twine(yard, owner_name, token, newer)
    assert "wrote 4, deleted 0" in _export(yard, owner_name, str(root))
    pip_install(f"{url}/simple", tmp_path / "t3", "snap-dep")
    assert (tmp_path / "t3" / "snap_dep-1.1.dist-info").is_dir()
    assert "wrote 0, deleted 0" in _export(yard, owner_name, str(root))


def test_export_to_s3_sets_content_types(
    yard: Yard, owner_name: str, tmp_path: Path, s3_endpoint: str
) -> None:
    token = yard.user(owner_name)
    twine(yard, owner_name, token, _wheel(tmp_path / "a", "snap-s3", "1.0"))
    folder = tmp_path / "export"
    _export(yard, owner_name, str(folder))
    bucket = new_bucket(s3_endpoint, versioned=False)
    env = {**CREDENTIALS, "WHEELYARD_S3_ENDPOINT_URL": s3_endpoint}
    assert "wrote 6" in _export(yard, owner_name, f"s3://{bucket}/snapshots/x", **env)
    s3 = s3client(s3_endpoint)
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    in_bucket = {o["Key"].removeprefix("snapshots/x/") for o in listed}
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert in_bucket == on_disk
    types = {
        "simple/index.html": "text/html; charset=utf-8",
        "simple/snap-s3/index.json": "application/vnd.pypi.simple.v1+json",
    }
    for key in on_disk:
        got = s3.get_object(Bucket=bucket, Key=f"snapshots/x/{key}")
        assert got["Body"].read() == (folder / key).read_bytes()
        if key.endswith(".whl"):
            assert got["ContentType"] == "application/octet-stream"
        elif key in types:
            assert got["ContentType"] == types[key]
    assert "wrote 0, deleted 0" in _export(yard, owner_name, f"s3://{bucket}/snapshots/x", **env)
